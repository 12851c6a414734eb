"""Autologging's files are written after fit returned, on one background thread: the model
is fixed when fit returns (a refit right after does not change it), flush() waits for them,
a run autologging started is ended after its files, and a failed write is one line."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import scale

import jupyter_mlops as mlops
from jupyter_mlops import fluent
from jupyter_mlops.hashing import hash_array
from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.tracking.autolog import deferred


@pytest.fixture
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return scale(X)[:200], y[:200]


def test_the_model_and_data_are_the_fits_even_when_changed_right_after(autologging, data):
    client, (X, y) = autologging, data
    X = X.copy()
    model = LogisticRegression(C=0.1)
    with mlops.start_run() as run:
        model.fit(X, y)
        first = model.predict_proba(X)
        digest = hash_array(X)
        # At once, before the writer ran: the caller reuses the array and refits the same
        # estimator (unrecorded, so the run's model file can only be the first fit's).
        mlops.autolog(disable=True)
        X[:] = 0.0
        model.set_params(C=100.0).fit(scale(load_breast_cancer(return_X_y=True)[0])[:50],
                                      y[:50])
    client.flush()
    _, blob = client.read_artifact(run.id, "model/model.skops")
    saved = get_flavor("skops").load(blob)
    assert saved.C == 0.1 and np.allclose(saved.predict_proba(scale(
        load_breast_cancer(return_X_y=True)[0])[:200]), first)
    assert client.get_dataset("training_X", version=1).digest == digest


def test_flush_waits_for_the_files_and_the_runs_end(autologging, data):
    client, (X, y) = autologging, data
    LogisticRegression().fit(X, y)
    client.flush()
    assert deferred.pending() == 0
    (run,) = client.search_runs()
    assert run.status == "FINISHED"
    names = {a.name for a in client.list_artifacts(run.id)}
    assert {"model/model.skops", "model/model.json"} <= names
    assert fluent.active_run() is None


def test_a_write_that_fails_on_the_writer_thread_is_one_line(autologging, data, capsys,
                                                              monkeypatch):
    client, (X, y) = autologging, data
    real = type(client).log_artifact

    def refuse(self, run_id, obj, name=None, kind="artifact"):
        if name == "model/model.json":
            raise OSError("disk\nfull")
        return real(self, run_id, obj, name, kind)

    monkeypatch.setattr(type(client), "log_artifact", refuse)
    LogisticRegression().fit(X, y)
    client.flush()
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jupyter-mlops: autolog did not record LogisticRegression.fit: not "
                   "recorded: model/model.json (disk full) (the fit itself succeeded)."]
    (run,) = client.search_runs()
    assert run.status == "FINISHED"  # the rest was written and the run still ended
    assert "model/model.skops" in {a.name for a in client.list_artifacts(run.id)}
