"""The pipeline CLI commands (wired on a local parser) and the progress views."""

from __future__ import annotations

import argparse
import io
import json
import time

import pytest

from jupyter_mlops.cli import pipelines as cli
from jupyter_mlops.pipelines.progress import LogProgress, WidgetProgress, make_progress

from .conftest import write_notebook, write_yaml


def _run(argv, capsys):
    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri")
    parser.add_argument("--artifact-root")
    cli.add_commands(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(argv)
    code = cli.COMMANDS[(args.group, getattr(args, "action", None))](args) or 0
    return code, capsys.readouterr().out


@pytest.mark.slow  # runs pipelines in kernels, 36.2 s measured (load 10)
@pytest.mark.kernel
def test_cli_run_show_list_and_schedules(pclient, project, capsys):
    write_notebook(project / "one.ipynb", "import jupyter_mlops as mlops; mlops.log_metric('v', n)",
                   params="n = 1")
    write_yaml(project / "pipeline.yaml", "name: cli\nparameters: {n: 1}\n"
               "steps:\n  one: {notebook: one.ipynb, parameters: {n: '${n}'}}\n")
    code, out = _run(["pipeline", "run", "pipeline.yaml", "-p", "n=4", "--no-progress",
                      "--format", "json"], capsys)
    assert code == 0
    record = json.loads(out)
    assert record["status"] == "SUCCEEDED" and record["parameters"] == {"n": 4}
    code, out = _run(["pipeline", "show", record["id"][:8]], capsys)
    assert "one" in out and "SUCCEEDED" in out
    code, out = _run(["pipeline", "list"], capsys)
    assert record["id"][:12] in out
    code, out = _run(["schedule", "add", "pipeline.yaml", "--cron", "0 6 * * *", "--tz",
                      "Europe/Berlin", "-p", "n=2", "--name", "daily"], capsys)
    assert "schedule 'daily'" in out
    code, out = _run(["schedule", "list", "--format", "json"], capsys)
    assert json.loads(out)[0]["parameters"] == {"n": "2"}
    for action in ("pause", "resume", "history"):
        _run(["schedule", action, "daily"], capsys)
    code, out = _run(["schedule", "run", "daily"], capsys)
    assert "schedule 'daily' fired now" in out
    from jupyter_mlops.pipelines.schedule import schedule_history

    deadline = time.monotonic() + 90
    while schedule_history("daily", client=pclient)[0].pipeline_status not in ("SUCCEEDED", "FAILED"):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    fire = schedule_history("daily", client=pclient)[0]
    assert fire.pipeline_status == "SUCCEEDED" and fire.fired_by.startswith("run-now:")
    _run(["schedule", "remove", "daily"], capsys)
    code, out = _run(["schedule", "list"], capsys)
    assert "no schedules" in out
    code, out = _run(["scheduler", "--once"], capsys)
    assert "fired 0 slot(s)" in out


def test_progress_views():
    buf = io.StringIO()
    view = LogProgress(buf)
    view.update({"a": "SUCCEEDED", "b": "RUNNING"}, "b: running")
    view.close("p: succeeded")
    assert "b: running  (1 running, 1 succeeded)" in buf.getvalue()
    widget = WidgetProgress(["a", "b"], "pipe")
    widget.update({"a": "SUCCEEDED", "b": "FAILED"})
    assert widget._bar.value == 2 and widget._bar.bar_style == "danger"
    assert widget._labels["b"].value == "b: FAILED"
    widget.close("pipe: failed")
    assert make_progress(False, ["a"], "x").__class__.__name__ == "NoProgress"
