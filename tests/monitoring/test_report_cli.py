"""Reports (figures, standalone HTML with escaped text), Prometheus metrics, the
``%mlops monitor`` subcommand and the ``jupyter mlops monitor`` commands."""

from __future__ import annotations

import argparse
import json

import pytest

from jupyter_mlops.monitoring.monitor import monitor

from .conftest import FEATURES, make_frame, truth


@pytest.fixture
def watched(client, registered, reference, model):
    ref = reference.copy()
    ref["<script>alert(1)</script>"] = ref["a"]  # hostile column name from user data
    mon = monitor("clf@champion", reference=ref, window=500, client=client)
    mon.add_alert("psi", 0.2, feature="a")
    for seed, shift in ((2, 0.0), (3, 1.0), (4, 1.5)):
        cur = make_frame(500, seed=seed, shift=shift)
        cur["<script>alert(1)</script>"] = cur["a"]
        mon.log_predictions(cur, model.predict(cur[FEATURES]), ids=[f"{seed}-{i}"
                                                                    for i in range(500)])
    mon.log_feedback([f"3-{i}" for i in range(500)], truth(make_frame(500, seed=3, shift=1.0)))
    return mon


@pytest.mark.slow  # renders the drift report figures, 8.7 s measured (load 9)
def test_report_figures_and_standalone_html(watched, tmp_path):
    report = watched.report()
    assert set(report.figures) == {"psi per feature over time", "Drift share and live quality",
                                   "Reference vs latest window"}
    table = report.latest_table()
    assert bool(table.loc["a", "drift"]) and not bool(table.loc["b", "drift"])
    path = tmp_path / "report.html"
    report.save_html(path)
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>")
    assert text.count("data:image/png;base64,") == 3
    assert "<script>" not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "RECORDED" in text and "accuracy" in text


def test_prometheus_exposition(watched):
    from jupyter_mlops.monitoring.metrics import exposition
    from jupyter_mlops.monitoring.monitor import get_monitor

    text = exposition(watched).decode()
    assert 'mlops_drift_psi{feature="a",monitor="clf@champion"}' in text
    assert 'mlops_drift_ks_pvalue{feature="a",monitor="clf@champion"}' in text
    assert "drift_score" not in text and "measure=" not in text
    assert 'mlops_drift_feature_drifted{feature="a",monitor="clf@champion"} 1.0' in text
    assert 'mlops_monitor_predictions_total{monitor="clf@champion"} 1500.0' in text
    assert 'mlops_monitor_windows_total{monitor="clf@champion"} 3.0' in text
    assert "# TYPE mlops_monitor_windows_total counter" in text
    # Another process (no window closed there) reads the newest stored window.
    fresh = exposition(get_monitor("clf@champion", client=watched.client)).decode()
    assert 'mlops_drift_psi{feature="a"' in fresh
    assert "mlops_drift_drifted_features_ratio" in fresh


@pytest.mark.slow  # renders the drift report figures, 13.1 s measured (load 9)
def test_magic_subcommand(watched, tmp_path, capsys, monkeypatch):
    from IPython.core.magic_arguments import MagicArgumentParser

    from jupyter_mlops.notebook import monitoring_magics as magics
    from jupyter_mlops.notebook.subcommands import Subcommands

    shown = []
    monkeypatch.setattr("IPython.display.display", lambda *objs: shown.extend(objs))
    parser = MagicArgumentParser(prog="%mlops")
    magics.add_parsers(Subcommands(parser.add_subparsers(dest="command")))
    args = parser.parse_args(["monitor", "clf@champion", "--html", str(tmp_path / "r.html")])
    magics.handle(args.command, args, shell=None)
    assert "Monitor clf@champion" in shown[0].data and "data:image/png" in shown[0].data
    assert (tmp_path / "r.html").exists() and "Wrote" in capsys.readouterr().out


def _cli(argv, capsys):
    from jupyter_mlops.cli import monitoring as cli

    parser = argparse.ArgumentParser()
    parser.add_argument("--tracking-uri")
    parser.add_argument("--artifact-root")
    cli.add_commands(parser.add_subparsers(dest="group", required=True))
    args = parser.parse_args(argv)
    code = cli.COMMANDS[(args.group, getattr(args, "action", None))](args) or 0
    return code, capsys.readouterr().out


@pytest.mark.slow  # renders the drift report figures, 7.1 s measured (load 9)
def test_cli(watched, client, tmp_path, capsys):
    code, out = _cli(["monitor", "list"], capsys)
    assert code == 0 and "clf@champion" in out and "3" in out
    code, out = _cli(["monitor", "show", "clf@champion"], capsys)
    assert "DRIFT" in out and "live quality" not in out  # window 3 has no labels
    code, out = _cli(["monitor", "show", "clf@champion", "--format", "json"], capsys)
    assert json.loads(out)["window"]["seq"] == 3
    code, out = _cli(["monitor", "report", "clf@champion", "-o", str(tmp_path / "x.html")],
                     capsys)
    assert (tmp_path / "x.html").exists()
    code, out = _cli(["monitor", "add-alert", "clf@champion", "drift_share", ">=", "0.5",
                      "--cooldown", "30m"], capsys)
    assert "drift_share >= 0.5" in out
    code, out = _cli(["monitor", "rules", "clf@champion"], capsys)
    assert "psi > 0.2 on a" in out and "drift_share >= 0.5" in out
    code, out = _cli(["monitor", "alerts", "clf@champion", "--format", "json"], capsys)
    assert {a["action"] for a in json.loads(out)} == {"RECORDED"}
    code, out = _cli(["monitor", "metrics", "clf@champion"], capsys)
    assert "mlops_drift_drifted_features_ratio" in out
    rule_id = watched.rules()[-1].id
    code, out = _cli(["monitor", "remove-alert", "clf@champion", str(rule_id)], capsys)
    assert len(watched.rules()) == 1
    assert watched.results("accuracy")["window"].tolist() == [2]
