"""MLflow's lightgbm and xgboost models come in as this registry's own flavors (never as a
pickle): written by the real ``mlflow.lightgbm``/``mlflow.xgboost``, imported, loaded back
with the same predictions; damaged booster files are skipped one by one, with a note."""

from __future__ import annotations

import os
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer

from jupyter_mlops.client import Client
from jupyter_mlops.interop.mlflow_import import import_mlflow

MLFLOW_ENV = {"MLFLOW_ALLOW_FILE_STORE": "true", "MLFLOW_ENABLE_TELEMETRY": "false",
              "DO_NOT_TRACK": "1"}


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory):
    """An mlruns folder holding three registered booster models and two damaged ones."""
    import lightgbm as lgb
    import mlflow
    import xgboost as xgb

    tmp = tmp_path_factory.mktemp("mlflow-boosters")
    uri = str(tmp / "mlruns")
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7,
                         "num_threads": 1}, lgb.Dataset(X, label=y), 5)
    classifier = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)
    bare = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                     xgb.DMatrix(X, label=y), 5)
    with mock.patch.dict(os.environ, {**MLFLOW_ENV, "MLFLOW_TRACKING_URI": uri}):
        # Requirements given: MLflow would otherwise infer them in a child process that loads
        # each model (most of a minute here).
        log = {"pip_requirements": ["lightgbm", "xgboost"]}
        mlflow.set_tracking_uri(uri)
        mlflow.set_experiment("boosters")
        with mlflow.start_run():
            mlflow.lightgbm.log_model(booster, name="lgb", registered_model_name="lgb", **log)
            mlflow.xgboost.log_model(classifier, name="xgbc", registered_model_name="xgbc",
                                     **log)
            mlflow.xgboost.log_model(bare, name="xgbjson", model_format="json",
                                     registered_model_name="xgbjson", **log)
            for name, flavor in (("badlgb", mlflow.lightgbm), ("badxgb", mlflow.xgboost)):
                model = booster if flavor is mlflow.lightgbm else bare
                info = flavor.log_model(model, name=name, registered_model_name=name, **log)
                _damage(tmp / "mlruns", info.model_id)
        mlflow.set_tracking_uri(None)
    return uri, X, {"lgb": booster, "xgbc": classifier, "xgbjson": bare}


def _damage(mlruns: Path, model_id: str) -> None:
    """Overwrite the booster file in the logged model's folder."""
    [folder] = [p for p in mlruns.rglob(f"{model_id}/artifacts") if p.is_dir()]
    for data in folder.rglob("model.*"):
        data.write_bytes(b"\x00 not a booster \xff" * 10)


@pytest.mark.slow(reason="MLflow logs five models: about 10 s")
def test_boosters_come_in_as_their_own_flavors_and_predict_the_same(mlflow_store, tmp_path):
    uri, X, models = mlflow_store
    client = Client(f"sqlite:///{tmp_path / 'ours.db'}", str(tmp_path / "art"))
    try:
        report = import_mlflow(client, uri)
        notes = "\n".join(report.notes)
        assert report.versions_imported == 3, notes

        lgb_version = client.registry.get_version("lgb", 1)
        assert (lgb_version.flavor, lgb_version.model_class) == (
            "lightgbm", "lightgbm.basic.Booster")
        loaded = client.registry.load_model("models:/lgb/1").model
        assert type(loaded).__name__ == "Booster"
        assert np.allclose(loaded.predict(X), models["lgb"].predict(X))

        xgbc = client.registry.get_version("xgbc", 1)
        assert (xgbc.flavor, xgbc.model_class) == ("xgboost", "xgboost.sklearn.XGBClassifier")
        loaded = client.registry.load_model("models:/xgbc/1").model
        assert type(loaded).__name__ == "XGBClassifier"  # the wrapper, as mlflow gives back
        assert np.allclose(loaded.predict_proba(X), models["xgbc"].predict_proba(X))

        loaded = client.registry.load_model("models:/xgbjson/1").model
        assert np.allclose(loaded.inplace_predict(X), models["xgbjson"].inplace_predict(X))

        # Damaged files: skipped one by one, each with its reason; nothing else affected.
        assert "model 'badlgb' version 1: model.lgb is not a LightGBM text model" in notes
        assert "model 'badxgb' version 1: XGBoost could not read model.ubj" in notes
        assert notes.count("badxgb") == 1  # one line, not a second "no model file" note
    finally:
        client.close()


def test_an_mlmodel_file_that_is_not_yaml_or_too_big_is_not_read():
    from jupyter_mlops.registry.mlflow_boosters import MAX_MLMODEL_BYTES, from_mlflow_folder

    notes: list[str] = []
    for raw in (b"flavors: [unclosed", b"x" * (MAX_MLMODEL_BYTES + 1), b"- a list\n",
                b"flavors:\n  xgboost: 3\n"):
        files = {"MLmodel": lambda raw=raw: raw, "model.ubj": lambda: b"never read"}
        assert from_mlflow_folder(files, notes.append, "model 'm' version 1") is None
    assert len(notes) == 2 and "not YAML" in notes[0] and "over" in notes[1]
    # An xgboost flavor whose data is outside the folder's known names: skipped, never read.
    files = {"MLmodel": lambda: b"flavors:\n  xgboost:\n    data: ../../etc/passwd\n"}
    assert from_mlflow_folder(files, notes.append, "m") == "skipped"
    assert "names data '../../etc/passwd'" in notes[-1]
