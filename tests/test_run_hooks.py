"""Run hooks are handed to ``lifecycle`` through its functions, and the fluent API fires them.

The notebook layer snapshots the notebook before a run ends and the package root starts the
cell hooks when a run starts: both register through ``lifecycle.add_*_hook`` (no module writes
another's list), and the fluent API calls them with the run.
"""

from __future__ import annotations

from jupyter_mlops import fluent, lifecycle


def test_hooks_see_the_run_once_each_and_stop_when_removed(client):
    started, ending = [], []

    def on_start(run):
        started.append(run.id)

    def on_end(run, status):
        ending.append((run.id, status))

    lifecycle.add_run_start_hook(on_start)
    lifecycle.add_before_end_hook(on_end)
    lifecycle.add_before_end_hook(on_end)  # a second registration does not call it twice
    try:
        run = fluent.start_run(experiment="hooks")
        fluent.end_run("FAILED")
        assert started == [run.id]
        assert ending == [(run.id, "FAILED")]

        lifecycle.remove_before_end_hook(on_end)
        lifecycle.remove_before_end_hook(on_end)  # removing an absent hook is a no-op
        again = fluent.start_run(experiment="hooks")
        fluent.end_run()
        assert started == [run.id, again.id]
        assert ending == [(run.id, "FAILED")]
    finally:
        lifecycle.remove_before_end_hook(on_end)
        lifecycle.remove_run_start_hook(on_start)
