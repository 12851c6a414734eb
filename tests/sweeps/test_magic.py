"""``%%mlops sweep`` in a real kernel: the cell body is the objective."""

from __future__ import annotations

import pytest

from tests.notebook.conftest import kernel_store, read_client, run_magics, text_of  # noqa: F401


@pytest.mark.slow
def test_the_cell_is_the_objective_and_failures_are_one_line(run_magics, read_client):
    nb = run_magics(
        '%%mlops sweep --trials 4 --space "x=uniform(-1,1) k=choice(a,b)" --name cell '
        '--sampler random --seed 0 --direction maximize\n'
        'trial.report(x, 0)\n'
        'if trial.number == 1:\n'
        '    raise ValueError("bad trial")\n'
        'if trial.number != 2:\n'
        '    objective = -x * x',
        "print(len(sweep_result.trials), sweep_result.best_value <= 0)",
        '%%mlops sweep --trials 2 --space "x=uniform(0"\nobjective = 1',
        '%mlops sweep --space "x=uniform(0,1)"',
    )
    sweep_cell, summary, bad_space, line_form = nb.cells[1:]
    assert text_of(summary).strip() == "4 True"
    assert "Cannot read the sweep space at 'x=uniform(0'" in text_of(bad_space)
    assert "UsageError" in text_of(bad_space) and "Traceback" not in text_of(bad_space)
    assert "cell magics" in text_of(line_form)
    out = text_of(sweep_cell)
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {})
               for o in sweep_cell.outputs)  # the sweep view (trials, figures) is shown
    assert "trial 1 failed: ValueError: bad trial; the sweep goes on" in out
    assert "trial 2 failed: UsageError: the cell did not assign `objective`" in out

    parent = read_client.search_runs("tags.`mlops.sweep.role` = 'parent'", warn=False)
    assert len(parent) == 1 and parent[0].status == "FINISHED"
    trials = {int(r.tags["mlops.sweep.trial"]): r for r in read_client.search_runs(
        "tags.`mlops.sweep.role` = 'trial'", warn=False)}
    assert {n: r.tags["mlops.sweep.state"] for n, r in trials.items()} == {
        0: "COMPLETE", 1: "FAIL", 2: "FAIL", 3: "COMPLETE"}
    for n in (0, 3):
        x = float(trials[n].params["x"])
        assert trials[n].metrics["objective"] == pytest.approx(-x * x)
        assert [p.value for p in read_client.metric_history(trials[n].id, "intermediate")] \
            == [pytest.approx(x)]
