"""Unmodified MLflow code against ``jupyter mlops server``; then the same data through our
Client and CLI (what the magics, panel and pipelines read)."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest


@pytest.fixture(scope="module")
def logged(mlflow_at, tmp_path_factory):
    mlflow = mlflow_at
    folder = tmp_path_factory.mktemp("files")
    (folder / "notes.txt").write_text("hello")
    (folder / "dir").mkdir()
    (folder / "dir" / "a.csv").write_text("x\n1\n")
    mlflow.set_experiment("mlflow-compat")
    ids = []
    for i, lr in enumerate((0.1, 0.01)):
        with mlflow.start_run(run_name=f"r{i}") as run:
            mlflow.log_param("lr", lr)
            mlflow.log_params({"model": "svc", "i": i})
            for step in range(5):
                mlflow.log_metric("loss", 1.0 / (step + 1 + i), step=step)
            mlflow.log_metrics({"acc": 0.8 + i / 10, "odd": math.nan}, step=5)
            mlflow.set_tag("team", "blue")
            mlflow.log_artifact(str(folder / "notes.txt"))
            mlflow.log_artifacts(str(folder / "dir"), artifact_path="data")
            ids.append(run.info.run_id)
    return ids


def test_runs_read_back_through_mlflow(mlflow_at, logged):
    from mlflow import MlflowClient

    c = MlflowClient()
    run = c.get_run(logged[1])
    assert run.info.status == "FINISHED" and run.info.run_name == "r1"
    assert run.data.params == {"lr": "0.01", "model": "svc", "i": "1"}
    assert run.data.tags["team"] == "blue"
    assert math.isnan(run.data.metrics["odd"])
    history = c.get_metric_history(logged[0], "loss")
    assert [(m.step, m.value) for m in history] == [(s, 1.0 / (s + 1)) for s in range(5)]
    exp = c.get_experiment_by_name("mlflow-compat")
    found = c.search_runs([exp.experiment_id], filter_string="params.model = 'svc' and "
                          "metrics.acc > 0.5", order_by=["metrics.acc DESC"])
    assert [r.info.run_id for r in found] == [logged[1], logged[0]]
    by_name = c.search_runs([exp.experiment_id], filter_string="attributes.run_name = 'r0'")
    assert [r.info.run_id for r in by_name] == [logged[0]]
    page = c.search_runs([exp.experiment_id], max_results=1, order_by=["metrics.acc ASC"])
    assert [r.info.run_id for r in page] == [logged[0]] and page.token
    rest = c.search_runs([exp.experiment_id], max_results=1, page_token=page.token,
                         order_by=["metrics.acc ASC"])
    assert [r.info.run_id for r in rest] == [logged[1]]
    names = sorted(f.path for f in c.list_artifacts(logged[0]))
    assert names == ["data", "notes.txt"]
    assert [f.path for f in c.list_artifacts(logged[0], "data")] == ["data/a.csv"]


def test_delete_and_restore_keep_the_run(mlflow_at, logged):
    from mlflow import MlflowClient

    c = MlflowClient()
    exp = c.get_experiment_by_name("mlflow-compat")
    c.delete_run(logged[0])
    assert c.get_run(logged[0]).info.lifecycle_stage == "deleted"
    assert logged[0] not in [r.info.run_id for r in c.search_runs([exp.experiment_id])]
    c.restore_run(logged[0])
    assert logged[0] in [r.info.run_id for r in c.search_runs([exp.experiment_id])]


def test_mlflow_deletes_a_file_and_a_folder_of_a_run(mlflow_at, server, logged):
    """What ``mlflow gc`` and MLflow's artifact repositories send: ``DELETE`` on the proxied
    artifact route; the run forgets them, the other run keeps its copies."""
    from mlflow import MlflowClient
    from mlflow.store.artifact.artifact_repository_registry import get_artifact_repository

    from jupyter_mlops.client import Client

    c = MlflowClient()
    repo = get_artifact_repository(c.get_run(logged[1]).info.artifact_uri)
    repo.delete_artifacts("data")
    assert [f.path for f in c.list_artifacts(logged[1])] == ["notes.txt"]
    repo.delete_artifacts("data")  # nothing there any more: no error, as in MLflow
    repo.delete_artifacts("notes.txt")
    assert c.list_artifacts(logged[1]) == []
    assert sorted(f.path for f in c.list_artifacts(logged[0])) == ["data", "notes.txt"]
    with Client(server.db, server.artifacts) as client:
        assert client.list_artifacts(logged[1]) == []


def test_same_data_through_our_client_and_cli(server, logged):
    from jupyter_mlops.client import Client

    with Client(server.db, server.artifacts) as client:
        detail = client.get_run(logged[0])
        assert detail.params["lr"] == "0.1" and detail.tags["team"] == "blue"
        assert [p.step for p in client.metric_history(logged[0], "loss")] == list(range(5))
        assert client.read_artifact(logged[0], "notes.txt")[1] == b"hello"
        assert client.read_artifact(logged[0], "data/a.csv")[1] == b"x\n1\n"
    out = subprocess.run(
        [sys.executable, "-m", "jupyter_mlops.cli", "--tracking-uri", server.db,
         "--artifact-root", server.artifacts, "runs", "list", "--format", "json"],
        capture_output=True, text=True, check=True).stdout
    assert set(logged) <= {r["id"] for r in json.loads(out)}


@pytest.mark.slow
def test_autolog_register_alias_and_load(mlflow_at, server):
    import numpy as np
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression

    mlflow = mlflow_at
    X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]] * 5)
    y = np.array([0, 1, 0, 1] * 5)
    mlflow.set_experiment("autolog")
    mlflow.sklearn.autolog(log_input_examples=False, silent=True)
    try:
        with mlflow.start_run() as run:
            LogisticRegression().fit(X, y)
    finally:
        mlflow.sklearn.autolog(disable=True)
    c = MlflowClient()
    assert "training_accuracy_score" in c.get_run(run.info.run_id).data.metrics
    version = mlflow.register_model(f"runs:/{run.info.run_id}/model", "compat-model")
    c.set_registered_model_alias("compat-model", "champion", version.version)
    assert c.get_model_version_by_alias("compat-model", "champion").version == version.version
    model = mlflow.pyfunc.load_model("models:/compat-model@champion")
    assert list(model.predict(X[:2])) == [0, 1]
    from jupyter_mlops.client import Client

    with Client(server.db, server.artifacts) as client:
        ours = client.registry.get_version("compat-model", int(version.version))
        assert ours.run_id == run.info.run_id and "champion" in ours.aliases


@pytest.mark.slow
def test_lightgbm_and_xgboost_models_register_as_their_own_flavors(mlflow_at, server):
    """``mlflow.lightgbm``/``mlflow.xgboost.log_model(..., registered_model_name=…)`` through
    the server: the versions are this registry's lightgbm/xgboost flavors (no pickle), and
    load back with MLflow's predictions; a damaged booster file is one clear refusal."""
    import lightgbm as lgb
    import numpy as np
    import xgboost as xgb
    from mlflow import MlflowClient
    from sklearn.datasets import load_breast_cancer

    from jupyter_mlops.client import Client

    mlflow = mlflow_at
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:200], y[:200]
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7,
                         "num_threads": 1}, lgb.Dataset(X, label=y), 5)
    classifier = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)
    log = {"pip_requirements": ["lightgbm", "xgboost"]}  # MLflow would infer them slowly
    mlflow.set_experiment("boosters")
    with mlflow.start_run():
        mlflow.lightgbm.log_model(booster, name="lgb", registered_model_name="rest-lgb", **log)
        mlflow.xgboost.log_model(classifier, name="xgb", registered_model_name="rest-xgb",
                                 **log)
        bad = mlflow.xgboost.log_model(classifier, name="bad", **log)
    with Client(server.db, server.artifacts) as client:
        lgb_version = client.registry.get_version("rest-lgb", 1)
        xgb_version = client.registry.get_version("rest-xgb", 1)
        assert (lgb_version.flavor, xgb_version.flavor) == ("lightgbm", "xgboost")
        assert xgb_version.model_class == "xgboost.sklearn.XGBClassifier"
        ours = client.registry.load_model("models:/rest-lgb/1")
        assert np.allclose(ours.predict(X[:20]), booster.predict(X[:20]))
        ours = client.registry.load_model("models:/rest-xgb/1")
        assert list(ours.predict(X[:20])) == list(classifier.predict(X[:20]))
        # Damage the booster file of the third model, then ask to register it.
        run_id = bad.run_id
        [name] = [a.name for a in client.list_artifacts(run_id)
                  if a.name.startswith(f"models/{bad.model_id}/") and a.name.endswith(".ubj")]
        client.log_artifact(run_id, b"not a booster", name=name)
    c = MlflowClient()
    c.create_registered_model("rest-bad")
    with pytest.raises(Exception, match="XGBoost could not read model.ubj"):
        c.create_model_version("rest-bad", bad.model_uri, run_id=run_id)
    assert c.search_model_versions("name = 'rest-bad'") == []
