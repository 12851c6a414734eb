"""A failed pipeline run is told to the webhooks that want ``pipeline.failed``; a run that
succeeds is not."""

from __future__ import annotations

import json

import pytest

from jupyter_mlops.pipelines.runner import run_pipeline

from ..pipelines.conftest import write_notebook, write_yaml
from .test_webhooks import Receiver


@pytest.mark.slow  # two real papermill steps
def test_a_failed_pipeline_is_sent_and_a_good_one_is_not(client, tmp_path):
    receiver = Receiver()
    try:
        client.webhooks.add(receiver.url, ["pipeline.failed"])
        write_notebook(tmp_path / "ok.ipynb", "x = 1")
        write_notebook(tmp_path / "bad.ipynb", "raise RuntimeError('no data today')")
        good = run_pipeline(write_yaml(tmp_path / "good.yaml", "name: good\nsteps:\n"
                                       "  ok: {notebook: ok.ipynb}\n"),
                            progress=False, client=client)
        bad = run_pipeline(write_yaml(tmp_path / "bad.yaml", "name: nightly\nsteps:\n"
                                      "  bad: {notebook: bad.ipynb}\n"),
                           progress=False, client=client)
        assert (good.status, bad.status) == ("SUCCEEDED", "FAILED")
        assert client.webhooks.wait(30)
        [payload] = [json.loads(body) for _, body in receiver.requests]
        assert payload["event"] == "pipeline.failed"
        data = payload["data"]
        assert data["pipeline"] == "nightly" and data["pipeline_run_id"] == bad.id
        assert data["failed_steps"] == ["bad"] and "no data today" in data["error"]
    finally:
        receiver.close()
