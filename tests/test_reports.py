"""Shareable reports: one self-contained HTML file, hostile text escaped, figures inline PNG.

Real runs in the test store (every backend), the real CLI in a subprocess and the fluent API.
The file is read back with the standard library's HTML parser: every ``src`` is an inline
PNG that decodes, no tag or attribute comes from a user's text, and no ``http(s)://`` remains
once the user's own (escaped) text is taken out.
"""

from __future__ import annotations

import base64
import html
import os
import subprocess
import sys
from html.parser import HTMLParser

import pandas as pd
import pytest

from jupyter_mlops.errors import InvalidInputError

HOSTILE = "<script>alert('x')</script>"
LINK = "https://evil.example/steal?a=1&b=<2>"
PNG = b"\x89PNG\r\n\x1a\n"


class Parsed(HTMLParser):
    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(tag, k, v or "") for k, v in attrs]

    def handle_data(self, data):
        self.text.append(data)


def _notebook(*sources: str) -> dict:
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
            "cells": [{"cell_type": "code", "metadata": {}, "source": s, "outputs": [],
                       "execution_count": None, "id": f"c{i}"} for i, s in enumerate(sources)]}


@pytest.fixture
def two_runs(client):
    ids = []
    for i, lr in enumerate((0.1, 0.01)):
        run = client.create_run(experiment="reports", name=f"{HOSTILE} run {i}")
        client.log_params(run.id, {"lr": lr, "evil": LINK, "model": "<b>mlp</b>"})
        client.set_tag(run.id, "note", f"{HOSTILE}{i}")
        for step in range(5):
            client.log_metric(run.id, "loss", 1.0 / (step + 1 + i), step=step)
        client.log_metric(run.id, "acc", 0.8 + i / 10)
        client.log_artifact(run.id, b"weights", name="model<1>.bin")
        client.log_dataset(run.id, pd.DataFrame({"x": [1, 2, 3]}), name="train<data>")
        client.log_notebook(run.id, _notebook("import numpy as np", f"lr = {lr}  # {HOSTILE}"))
        client.end_run(run.id)
        ids.append(run.id)
    client.flush()
    return ids


def _check_self_contained(page: str, user_texts: list[str]) -> Parsed:
    parsed = Parsed(page)
    assert "script" not in parsed.tags and "link" not in parsed.tags and "iframe" not in parsed.tags
    for tag, key, value in parsed.attrs:
        assert not key.startswith("on"), (tag, key)
        if key in ("src", "href"):
            assert value.startswith("data:image/png;base64,"), (tag, key, value[:60])
            assert base64.b64decode(value.split(",", 1)[1]).startswith(PNG)
    rest = page
    for text in user_texts:
        rest = rest.replace(html.escape(text, quote=True), "")
    assert "http://" not in rest and "https://" not in rest
    return parsed


@pytest.mark.slow
def test_cli_compares_two_real_runs(client, two_runs, tmp_path):
    out = tmp_path / "cmp.html"
    proc = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "report", "runs", "--run", two_runs[0],
         "--run", two_runs[1][:12], "-o", str(out)],
        capture_output=True, text=True, env=os.environ.copy(), timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert "Comparison of 2 runs" in proc.stdout
    page = out.read_text(encoding="utf-8")
    parsed = _check_self_contained(page, [LINK])
    text = "".join(parsed.text)
    assert f"{HOSTILE} run 0" in text and "<b>mlp</b>" in text  # shown as text
    assert HOSTILE not in page and html.escape(HOSTILE) in page
    # lr differs (highlighted), model does not
    rows = page.split("<tr>")
    lr = next(r for r in rows if r.startswith("<td>lr</td>"))
    model = next(r for r in rows if r.startswith("<td>model</td>"))
    assert 'class="num differs"' in lr or 'class="differs"' in lr
    assert "differs" not in model
    # metric curves overlaid: one inline PNG; the notebook diff shows the changed cell
    assert sum(1 for _, k, _ in parsed.attrs if k == "src") == 1
    assert "Notebook diff" in text and "lr = 0.01" in text and "lr = 0.1" in text
    assert "import numpy" not in text.split("Notebook diff")[1]  # unchanged cells not shown


def test_run_report_from_python(client, two_runs, tmp_path):
    import jupyter_mlops as mlops

    path = tmp_path / "sub" / "run.html"
    report = mlops.report(f"run:{two_runs[1][:10]}", path, client=client)
    page = path.read_text(encoding="utf-8")
    assert page == report.html and page.startswith("<!DOCTYPE html>")
    parsed = _check_self_contained(page, [LINK])
    text = "".join(parsed.text)
    for shown in (f"{HOSTILE} run 1", "model<1>.bin", "train<data>", f"{HOSTILE}1", "reports",
                  "Metric history", "Lineage"):
        assert shown in text, shown
    srcs = [v for _, k, v in parsed.attrs if k == "src"]
    assert len(srcs) == 1  # loss has a history (5 points); acc has one point: no curve


def test_a_filter_selects_the_runs(client, two_runs):
    from jupyter_mlops.client.reports import build_report

    report = build_report(client, "runs", filter="metrics.acc > 0.85")
    assert report.title == f"Run {HOSTILE} run 1"  # one run matches: its own report
    report = build_report(client, "runs", experiment="reports", max_runs=2)
    assert report.title == "Comparison of 2 runs"


@pytest.mark.parametrize("target", ["", "bogus", "run:", "runs:extra", "model:",
                                    "run:a\nb", "monitor"])
def test_bad_targets_are_refused(client, target):
    from jupyter_mlops.client.reports import build_report

    with pytest.raises(InvalidInputError) as info:
        build_report(client, target)
    assert "\n" not in str(info.value)


def test_max_runs_is_checked(client):
    from jupyter_mlops.client.reports import build_report

    for bad in (1, 51, "x"):
        with pytest.raises(InvalidInputError):
            build_report(client, "runs", max_runs=bad)


@pytest.mark.slow
def test_model_card_and_drift_report(client, tmp_path):
    """The registry's model card and the monitor's drift report, each as one file."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlops.client.reports import build_report

    rng = np.random.default_rng(0)
    ref = pd.DataFrame({"a": rng.normal(size=400), "b": rng.normal(size=400)})
    est = LogisticRegression().fit(ref, (ref["a"] > 0).astype(int))
    v = client.registry.register_model(est, "clf", input_example=ref.head(),
                                       description=f"{HOSTILE} {LINK}")
    client.registry.set_alias("clf", "champion", v.version)
    card = build_report(client, "model:clf@champion")
    parsed = _check_self_contained(card.html, [f"{HOSTILE} {LINK}"])
    assert f"{HOSTILE} {LINK}" in "".join(parsed.text) and "clf" in card.title
    assert build_report(client, f"model:clf/{v.version}").title == card.title

    mon = client.monitoring.create("clf@champion", reference=ref, name="clf-mon", window=200)
    shifted = ref.assign(a=ref["a"] + 3)
    mon.log_predictions(shifted, est.predict(shifted))
    mon.flush()
    drift = build_report(client, "monitor:clf-mon")
    path = drift.save(tmp_path / "drift.html")
    parsed = _check_self_contained(path.read_text(encoding="utf-8"), [])
    assert drift.title == "Monitor clf-mon" and "Latest window" in "".join(parsed.text)
    assert any(k == "src" for _, k, _ in parsed.attrs)  # the drift figures, inline
