"""LightGBM and XGBoost autologging with the real libraries on a real store: ``train`` and the
scikit-learn wrappers record params, per-iteration evaluation histories, the best iteration,
feature importance, dataset hashes and the model in the library's own format (never pickle),
and nested calls are recorded once."""

from __future__ import annotations

import json
import subprocess
import sys

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from sklearn.datasets import load_breast_cancer, load_diabetes

import jupyter_mlops as mlops
from jupyter_mlops.hashing import hash_array


@pytest.fixture
def data():
    X, y = load_breast_cancer(return_X_y=True)
    return X[:400], y[:400], X[400:], y[400:]


def _detail(client, run_id):
    client.flush()
    return client.get_run(run_id)


def _artifact(client, run_id, name):
    return client.read_artifact(run_id, name)[1]


def test_lightgbm_train_records_history_best_iteration_importance_data_and_text_model(
        autologging, data):
    client, (X, y, Xv, yv) = autologging, data
    with mlops.start_run() as run:
        train = lgb.Dataset(X, label=y)
        valid = lgb.Dataset(Xv, label=yv, reference=train)
        booster = lgb.train({"objective": "binary", "verbose": -1, "learning_rate": 0.3,
                             "metric": ["binary_logloss", "auc"]}, train, 60,
                            valid_sets=[valid], valid_names=["valid"],
                            callbacks=[lgb.early_stopping(3, verbose=False)])
    detail = _detail(client, run.id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["objective"] == "binary" and params["learning_rate"] == "0.3"
    assert params["num_boost_round"] == "60"
    assert dict(detail.tags)["mlops.autolog.estimator"] == "lightgbm.train"
    history = client.metric_history(run.id, "valid-binary_logloss")
    assert [p.step for p in history] == list(range(len(history)))
    assert len(history) == metrics["stopped_iteration"] < 60  # early stopping stopped it
    assert metrics["best_iteration"] == booster.best_iteration
    assert metrics["best_valid-auc"] == pytest.approx(booster.best_score["valid"]["auc"])

    split = json.loads(_artifact(client, run.id, "feature_importance_split.json"))
    assert split == dict(zip(booster.feature_name(),
                             booster.feature_importance("split").astype(float).tolist()))
    assert "Column_0" in json.loads(_artifact(client, run.id, "feature_importance_gain.json"))

    assert client.get_dataset("training_X").digest == hash_array(X)
    assert client.get_dataset("training_y").digest == hash_array(y)

    text = _artifact(client, run.id, "model/lightgbm.txt").decode()
    assert not text.startswith("\x80")  # LightGBM's text model, not a pickle
    loaded = lgb.Booster(model_str=text)
    assert np.allclose(loaded.predict(Xv), booster.predict(Xv))
    description = json.loads(_artifact(client, run.id, "model/model.json"))
    assert description["flavor"] == "lightgbm"
    assert description["signature"]["shape"] == [X.shape[1]]


def test_xgboost_train_records_history_best_score_importance_data_and_json_model(
        autologging, data):
    client, (X, y, Xv, yv) = autologging, data
    mine: dict = {}
    with mlops.start_run() as run:
        dtrain, dvalid = xgb.DMatrix(X, label=y), xgb.DMatrix(Xv, label=yv)
        booster = xgb.train({"objective": "binary:logistic", "eta": 0.5,
                             "eval_metric": ["logloss", "auc"]}, dtrain, 40,
                            evals=[(dtrain, "train"), (dvalid, "eval")], evals_result=mine,
                            early_stopping_rounds=3, verbose_eval=False)
    detail = _detail(client, run.id)
    params, metrics = dict(detail.params), dict(detail.metrics)
    assert params["eta"] == "0.5" and params["early_stopping_rounds"] == "3"
    # The caller's own evals_result is filled as usual, and is what was recorded.
    history = client.metric_history(run.id, "eval-logloss")
    assert [p.value for p in history] == pytest.approx(mine["eval"]["logloss"])
    assert [p.step for p in history] == list(range(len(mine["eval"]["logloss"])))
    assert metrics["best_iteration"] == booster.best_iteration
    assert metrics["best_score"] == pytest.approx(booster.best_score)
    assert metrics["best_eval-auc"] == pytest.approx(mine["eval"]["auc"][booster.best_iteration])
    weight = json.loads(_artifact(client, run.id, "feature_importance_weight.json"))
    assert weight == pytest.approx(booster.get_score(importance_type="weight"))

    # A DMatrix keeps no reference to the arrays: the hash is of what XGBoost trained on.
    assert client.get_dataset("training_X").digest == hash_array(X.astype(np.float32))
    assert client.get_dataset("training_y").digest == hash_array(y.astype(np.float32))

    raw = _artifact(client, run.id, "model/xgboost.json")
    assert json.loads(raw)["learner"]  # XGBoost's JSON model
    loaded = xgb.Booster()
    loaded.load_model(bytearray(raw))
    assert np.allclose(loaded.predict(dvalid), booster.predict(dvalid))


def test_sklearn_wrappers_add_histories_to_the_sklearn_record_and_save_native_models(
        autologging, data):
    client, (X, y, Xv, yv) = autologging, data
    with mlops.start_run() as lgb_run:
        lgb_model = lgb.LGBMClassifier(n_estimators=15, verbose=-1).fit(
            X, y, eval_set=[(Xv, yv)])
    with mlops.start_run() as xgb_run:
        xgb_model = xgb.XGBClassifier(n_estimators=30, early_stopping_rounds=2).fit(
            X, y, eval_set=[(Xv, yv)], verbose=False)

    detail = _detail(client, lgb_run.id)
    metrics = dict(detail.metrics)
    assert dict(detail.params)["n_estimators"] == "15"
    assert metrics["training_accuracy_score"] == pytest.approx(lgb_model.score(X, y))
    assert len(client.metric_history(lgb_run.id, "valid_0-binary_logloss")) == 15
    assert "best_iteration" not in metrics  # no early stopping
    assert client.get_dataset("training_X").digest == hash_array(X)
    text = _artifact(client, lgb_run.id, "model/lightgbm.txt").decode()
    assert np.allclose(lgb.Booster(model_str=text).predict(Xv),
                       lgb_model.predict_proba(Xv)[:, 1])
    assert json.loads(_artifact(client, lgb_run.id, "model/model.json"))["classes"] == [0, 1]
    names = {a.name for a in client.list_artifacts(lgb_run.id)}
    assert "model/model.skops" not in names and "feature_importance_split.json" in names

    detail = _detail(client, xgb_run.id)
    metrics = dict(detail.metrics)
    assert metrics["best_iteration"] == xgb_model.best_iteration
    assert metrics["best_score"] == pytest.approx(xgb_model.best_score)
    assert "training_roc_auc" in metrics
    loaded = xgb.XGBClassifier()
    loaded.load_model(bytearray(_artifact(client, xgb_run.id, "model/xgboost.json")))
    assert np.array_equal(loaded.predict(Xv), xgb_model.predict(Xv))


def test_a_regressor_and_a_train_without_validation_sets(autologging):
    client = autologging
    X, y = load_diabetes(return_X_y=True)
    with mlops.start_run() as run:
        lgb.LGBMRegressor(n_estimators=5, verbose=-1).fit(X, y)
        booster = lgb.train({"objective": "regression", "verbose": -1},
                            lgb.Dataset(X, label=y), 4)  # a second fit in the same run
    detail = _detail(client, run.id)
    assert "training_r2_score" in dict(detail.metrics)
    assert booster.num_trees() == 4


def test_nested_train_inside_an_autologged_fit_is_recorded_once(autologging, data):
    client, (X, y, _, _) = autologging, data
    from sklearn.base import BaseEstimator, ClassifierMixin

    class Wrapped(ClassifierMixin, BaseEstimator):
        def fit(self, X, y):
            self.booster_ = lgb.train({"objective": "binary", "verbose": -1},
                                      lgb.Dataset(X, label=y), 3)
            self.classes_ = np.unique(y)
            return self

        def predict(self, X):
            return (self.booster_.predict(X) > 0.5).astype(int)

    with mlops.start_run() as run:
        Wrapped().fit(X, y)
    detail = _detail(client, run.id)
    assert dict(detail.tags)["mlops.autolog.estimator"].endswith("Wrapped")
    assert "objective" not in dict(detail.params)  # the inner train left nothing of its own


def test_disable_restores_train_and_a_logging_failure_is_one_line(autologging, data, capsys,
                                                                  monkeypatch):
    client, (X, y, _, _) = autologging, data
    from jupyter_mlops.tracking.autolog import boosting

    def broken(*args, **kwargs):
        raise RuntimeError("importance\nunavailable")

    monkeypatch.setattr(boosting, "add_importance", broken)
    original = lgb.train.__mlops_autolog_original__
    with mlops.start_run() as run:
        booster = lgb.train({"objective": "binary", "verbose": -1},
                            lgb.Dataset(X, label=y), 2)
    assert booster.num_trees() == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["jupyter-mlops: autolog did not record lightgbm.train: not recorded: "
                   "evaluation results (importance unavailable) (the fit itself succeeded)."]
    assert dict(_detail(client, run.id).params)["objective"] == "binary"  # the rest kept
    mlops.autolog(disable=True)
    assert lgb.train is original and lgb.engine.train is original
    assert not hasattr(xgb.train, "__mlops_autolog_original__")


@pytest.mark.slow  # 4-8 s: CI runs it, make test-fast does not
def test_a_library_imported_after_autolog_is_patched_on_import(tmp_path):
    """In a fresh process: autolog() does not import LightGBM/XGBoost, and patches them the
    moment the user imports them."""
    code = (
        "import sys, jupyter_mlops as mlops\n"
        "mlops.autolog()\n"
        "assert 'lightgbm' not in sys.modules and 'xgboost' not in sys.modules\n"
        "import lightgbm, xgboost\n"
        "assert hasattr(lightgbm.train, '__mlops_autolog_original__')\n"
        "assert hasattr(xgboost.train, '__mlops_autolog_original__')\n"
        "import numpy as np\n"
        "X = np.random.default_rng(0).normal(size=(50, 3)); y = (X[:, 0] > 0).astype(int)\n"
        "lightgbm.train({'objective': 'binary', 'verbose': -1}, lightgbm.Dataset(X, label=y), 2)\n"
        "mlops.flush()\n"
        "runs = mlops.search_runs()\n"
        "assert runs[0].tags['mlops.autolog.estimator'] == 'lightgbm.train', runs\n"
        "print('ok')\n")
    env = {"MLOPS_TRACKING_URI": f"sqlite:///{tmp_path}/m.db",
           "MLOPS_ARTIFACT_ROOT": str(tmp_path / "art"), "PATH": "/usr/bin:/bin"}
    import os
    env.update({k: v for k, v in os.environ.items() if k in ("PYTHONPATH", "HOME")})
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, cwd=tmp_path, timeout=120)
    assert out.stdout.strip().endswith("ok"), out.stderr[-2000:]
