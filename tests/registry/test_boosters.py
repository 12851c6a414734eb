"""LightGBM and XGBoost models in the registry, with the real libraries: the files autologging
writes (``model/lightgbm.txt``, ``model/xgboost.json``) register as the ``lightgbm`` /
``xgboost`` flavors and load back as the booster or the scikit-learn wrapper that was fitted,
predicting the same values, without unpickling anything; anything else is one clear line."""

from __future__ import annotations

import json
import pickle

import lightgbm as lgb
import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import boosters
from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.registry.run_model import log_model
from jupyter_mlops.serving.holder import ModelHolder


@pytest.fixture(scope="module")
def small():
    from sklearn.datasets import load_breast_cancer

    X, y = load_breast_cancer(return_X_y=True)
    return X[:300], y[:300]


def test_autologged_lgbm_classifier_registers_and_loads_as_the_wrapper(
        autologging, small, no_unpickling):
    client, (X, y) = autologging, small
    labels = np.where(y == 1, "benign", "malignant")  # text labels the booster never sees
    with mlops.start_run() as run:
        model = lgb.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1, n_jobs=1).fit(X, labels)
    client.flush()

    version = client.registry.register_model(f"runs:/{run.id}/model/lightgbm.txt", "lgbm")
    assert (version.flavor, version.model_class) == ("lightgbm",
                                                     "lightgbm.sklearn.LGBMClassifier")
    assert version.run_id == run.id
    loaded = client.registry.load_model("models:/lgbm/1")
    assert type(loaded.model) is lgb.LGBMClassifier
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X))
    assert list(loaded.model.classes_) == ["benign", "malignant"]


def test_lightgbm_train_booster_registers_as_is_and_loads_as_a_booster(client, small):
    X, y = small
    booster = lgb.train({"objective": "regression", "verbose": -1, "num_leaves": 7, "num_threads": 1},
                        lgb.Dataset(X, label=y.astype(float)), 5)
    with mlops.start_run() as run:
        log_model(client, run.id, booster, X)
    artifact = client.store.catalog.get_artifact(run.id, "model/lightgbm.txt")

    version = client.registry.register_model(f"runs:/{run.id}/model/lightgbm.txt", "booster")
    assert (version.flavor, version.model_class) == ("lightgbm", "lightgbm.basic.Booster")
    assert version.digest == artifact.digest  # the run's own file, not a copy
    loaded = client.registry.load_model("models:/booster/1")
    assert isinstance(loaded.model, lgb.Booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(X))


def test_autologged_xgb_classifier_and_xgboost_train_booster(autologging, small,
                                                             no_unpickling):
    client, (X, y) = autologging, small
    with mlops.start_run() as wrapper_run:
        model = xgb.XGBClassifier(n_estimators=5, max_depth=3, n_jobs=1).fit(X, y)
    with mlops.start_run() as train_run:
        booster = xgb.train({"objective": "binary:logistic", "max_depth": 3, "nthread": 1},
                            xgb.DMatrix(X, label=y), 5)
    client.flush()

    v1 = client.registry.register_model(f"runs:/{wrapper_run.id}/model/xgboost.json", "xgb")
    v2 = client.registry.register_model(f"runs:/{train_run.id}/model/xgboost.json", "xgb")
    assert (v1.flavor, v1.model_class) == ("xgboost", "xgboost.sklearn.XGBClassifier")
    assert (v2.flavor, v2.model_class) == ("xgboost", "xgboost.core.Booster")

    wrapper = client.registry.load_model("models:/xgb/1")
    assert type(wrapper.model) is xgb.XGBClassifier
    np.testing.assert_array_equal(wrapper.predict(X), model.predict(X))
    np.testing.assert_allclose(wrapper.predict_proba(X), model.predict_proba(X))

    bare = client.registry.load_model("models:/xgb/2")
    assert isinstance(bare.model, xgb.Booster)
    # A bare Booster's predict wants a DMatrix: the loaded model scores arrays directly.
    np.testing.assert_allclose(bare.predict(X), booster.predict(xgb.DMatrix(X)), rtol=1e-6)


def test_in_memory_regressors_round_trip_and_serve(client, small):
    X, y = small
    target = y.astype(float) + X[:, 0] / 10
    lgbm = lgb.LGBMRegressor(n_estimators=5, num_leaves=7, verbose=-1, n_jobs=1).fit(X, target)
    xgbm = xgb.XGBRegressor(n_estimators=5, max_depth=3, n_jobs=1).fit(X, target)
    booster = xgb.train({"max_depth": 3, "nthread": 1}, xgb.DMatrix(X, label=target), 4)
    for name, flavor, model in (("lr", "lightgbm", lgbm), ("xr", "xgboost", xgbm),
                                ("xb", "xgboost", booster)):
        version = client.registry.register_model(model, name, input_example=X[:3])
        assert version.flavor == flavor
        loaded = client.registry.load_model(f"models:/{name}/1")
        assert type(loaded.model) is type(model)
        expected = booster.predict(xgb.DMatrix(X)) if name == "xb" else model.predict(X)
        np.testing.assert_allclose(loaded.predict(X), expected, rtol=1e-6)
        served = ModelHolder(client, f"models:/{name}/1", poll_interval=0).current
        np.testing.assert_allclose(served.predict(X[:4]), expected[:4], rtol=1e-6)


def test_in_memory_classifiers_keep_their_labels(client, small):
    X, y = small
    labels = np.where(y == 1, "b", "m")
    for name, model in (("lc", lgb.LGBMClassifier(n_estimators=4, num_leaves=7, verbose=-1, n_jobs=1)),
                        ("xc", xgb.XGBClassifier(n_estimators=4, max_depth=3, n_jobs=1))):
        model.fit(X, labels if name == "lc" else y)
        client.registry.register_model(model, name)
        loaded = client.registry.load_model(f"models:/{name}/1")
        assert type(loaded.model) is type(model)
        np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
        np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)


@pytest.mark.parametrize("filename, content, message", [
    ("model/model.json", {"flavor": "lightgbm", "model_class": "x"},
     "not a readable xgboost model file: no 'learner' object"),
    ("model/xgboost.json", b"{\"learner\": 1", "not a readable xgboost model file: not JSON"),
    ("model/xgboost.json", b"{\"learner\": {\"bogus\": 1}}",
     "not a readable xgboost model file: "),
    ("model/lightgbm.txt", b"tree\nversion=v4\nend of trees\n",
     "not a readable lightgbm model file: "),
    ("model/lightgbm.txt", b"hello", "is not a model file the registry can read"),
])
def test_a_file_that_is_not_a_model_is_one_clear_line(client, filename, content, message):
    with mlops.start_run() as run:
        client.log_artifact(run.id, content, filename)
    client.flush()
    with pytest.raises(InvalidInputError, match=message) as info:
        client.registry.register_model(f"runs:/{run.id}/{filename}", "bad")
    assert "\n" not in str(info.value) and len(str(info.value)) < 400


def test_a_header_naming_another_class_is_refused_by_name(small):
    X, y = small
    native = lgb.LGBMRegressor(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y).booster_ \
        .model_to_string().encode()
    crafted = boosters.bundle("lightgbm", native, "os.system", None)
    with pytest.raises(InvalidInputError, match="names class 'os.system', which the registry"):
        get_flavor("lightgbm").load(crafted)
    wrong = boosters.bundle("lightgbm", native, "lightgbm.sklearn.LGBMClassifier",
                            ["a", "b", "c"])
    with pytest.raises(InvalidInputError, match="names 3 classes, the model has 2"):
        get_flavor("lightgbm").load(wrong)
    with pytest.raises(InvalidInputError, match="distinct and sorted"):
        get_flavor("lightgbm").load(boosters.bundle(
            "lightgbm", native, "lightgbm.sklearn.LGBMClassifier", ["b", "a"]))


def test_a_run_description_with_bad_labels_is_refused(client, small):
    X, y = small
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y)
    with mlops.start_run() as run:
        log_model(client, run.id, model)
        client.log_artifact(run.id, {"model_class": "lightgbm.sklearn.LGBMClassifier",
                                     "classes": [1, None]}, "model/model.json")
    client.flush()
    with pytest.raises(InvalidInputError, match="model.json: 'classes' must be all text"):
        client.registry.register_model(f"runs:/{run.id}/model/lightgbm.txt", "m")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flavor=st.sampled_from(["lightgbm", "xgboost"]),
       header=st.one_of(st.binary(max_size=60), st.dictionaries(
           st.sampled_from(["version", "flavor", "model_class", "classes", "params"]),
           st.one_of(st.none(), st.integers(), st.text(max_size=30),
                     st.lists(st.one_of(st.integers(), st.text(max_size=3), st.floats()),
                              max_size=4)), max_size=4).map(lambda d: json.dumps(d).encode())),
       body=st.binary(max_size=80))
def test_hostile_files_only_raise_clear_errors(flavor, header, body):
    data = boosters.MAGIC + header.replace(b"\n", b" ") + b"\n" + body
    for candidate in (data, body, b"tree\n" + body):
        with pytest.raises(InvalidInputError) as info:
            get_flavor(flavor).load(candidate)
        assert "\n" not in str(info.value)


def test_register_file_takes_a_safe_flavors_file_and_refuses_the_rest(client, small, no_unpickling):
    """What the MLflow door registers for an MLflow booster folder: the converted file."""
    X, y = small
    booster = lgb.train({"objective": "binary", "verbose": -1, "num_leaves": 7,
                         "num_threads": 1}, lgb.Dataset(X, label=y), 5)
    text = booster.model_to_string().encode()
    with mlops.start_run() as run:
        pass
    version = client.registry.register_file(text, "from-file", flavor="lightgbm", run=run.id)
    assert (version.flavor, version.run_id) == ("lightgbm", run.id)
    loaded = client.registry.load_model("models:/from-file/1")
    assert np.allclose(loaded.predict(X[:10]), booster.predict(X[:10]))
    with pytest.raises(InvalidInputError, match="safe flavors, not 'pickle'"):
        client.registry.register_file(pickle.dumps(1), "from-file", flavor="pickle")
    with pytest.raises(InvalidInputError):
        client.registry.register_file(b"tree\nnot really", "from-file", flavor="lightgbm")
    with pytest.raises(InvalidInputError, match="Unknown model flavor"):
        client.registry.register_file(text, "from-file", flavor="onnx")
    assert [v.version for v in client.registry.list_versions("from-file")] == [1]


# ---------------------------------------------------------------- constructor params


def _same_params(loaded: dict, fitted: dict, left_out=()) -> None:
    """Equal ``get_params()`` but for the keys left out (NaN equal to NaN)."""
    expected = {k: v for k, v in fitted.items() if k not in left_out}
    got = {k: v for k, v in loaded.items() if k not in left_out}
    assert set(got) == set(expected)
    for key, value in expected.items():
        same = got[key] == value or (value != value and got[key] != got[key])
        assert same, (key, got[key], value)


def test_wrappers_keep_their_constructor_params_autologged_and_in_memory(
        autologging, small, no_unpickling):
    """model.json did not keep get_params(): a loaded wrapper had the class defaults."""
    client, (X, y) = autologging, small
    lgbm = lgb.LGBMClassifier(n_estimators=12, learning_rate=0.2, num_leaves=7, verbose=-1,
                              n_jobs=1)
    xgbm = xgb.XGBClassifier(n_estimators=6, learning_rate=0.2, max_depth=3, n_jobs=1)
    runs = {}
    for name, model in (("lc", lgbm), ("xc", xgbm)):
        with mlops.start_run() as runs[name]:
            model.fit(X, y)
    client.flush()

    about = json.loads(client.read_artifact(runs["lc"].id, "model/model.json")[1])
    assert about["params"]["n_estimators"] == 12 and about["params"]["learning_rate"] == 0.2
    assert about["params_left_out"] == ["verbose"]  # a keyword the class does not name
    assert json.loads(client.read_artifact(runs["xc"].id, "model/model.json")[1])[
        "params_left_out"] == []  # missing=nan is left out silently: it is the default

    for name, model, left_out in (("lc", lgbm, ["verbose"]), ("xc", xgbm, [])):
        # The run's folder names its file; and the fitted object, registered from memory.
        for source in (f"runs:/{runs[name].id}/model", model):
            version = client.registry.register_model(source, name, run=None)
            loaded = client.registry.load_model(f"models:/{name}/{version.version}").model
            assert type(loaded) is type(model)
            _same_params(loaded.get_params(), model.get_params(), left_out)
            assert loaded.get_params()["n_estimators"] == model.n_estimators
            np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X),
                                       rtol=1e-6)


def _squared_error(y_true, y_pred):
    return y_pred - y_true, np.ones_like(y_pred)


def test_a_callable_objective_is_left_out_and_named_never_pickled(client, small,
                                                                  no_unpickling):
    X, y = small
    model = lgb.LGBMRegressor(objective=_squared_error, n_estimators=5, num_leaves=7,
                              verbose=-1, n_jobs=1).fit(X, y.astype(float))
    version = client.registry.register_model(model, "custom-objective")
    data = client.store.blobs.get_bytes(version.digest)
    header, _ = boosters.split(data, "lightgbm")
    assert "objective" in header["params_left_out"] and "objective" not in header["params"]
    loaded = client.registry.load_model("models:/custom-objective/1").model
    assert loaded.get_params()["objective"] is None  # the class default, named above
    assert loaded.get_params()["n_estimators"] == 5
    np.testing.assert_allclose(loaded.predict(X), model.predict(X))


@pytest.mark.parametrize("params, message", [
    ({"_Booster": None}, "recorded param '_Booster' is not one the class takes"),
    ({"fit": 1}, "recorded param 'fit' is not one the class takes"),
    ({"n_estimators": {"a": 1}}, "recorded param 'n_estimators' is not a JSON scalar or list"),
    ({"n estimators": 1}, "recorded param 'n estimators' is not a keyword argument name"),
    ([["n_estimators", 5]], "the recorded params must be a JSON object"),
])
def test_recorded_params_are_refused_unless_the_class_takes_them(client, small, params,
                                                                 message):
    """Read back, params are untrusted: set_params on a LightGBM wrapper sets any attribute
    it is given (``_Booster``, ``predict``), so only get_params()'s own keys pass."""
    X, y = small
    model = lgb.LGBMClassifier(n_estimators=2, verbose=-1, n_jobs=1).fit(X, y)
    with mlops.start_run() as run:
        log_model(client, run.id, model)
        about = json.loads(client.read_artifact(run.id, "model/model.json")[1])
        client.log_artifact(run.id, {**about, "params": params}, "model/model.json")
    client.flush()
    with pytest.raises(InvalidInputError, match=message) as refused:  # at registration
        client.registry.register_model(f"runs:/{run.id}/model/lightgbm.txt", "m")
    assert "\n" not in str(refused.value)
    native = model.booster_.model_to_string().encode()
    crafted = boosters.bundle("lightgbm", native, "lightgbm.sklearn.LGBMClassifier", [0, 1],
                              {"params": params})
    with pytest.raises(InvalidInputError, match=message):  # and at load
        get_flavor("lightgbm").load(crafted)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flavor=st.sampled_from(["lightgbm", "xgboost"]),
       params=st.dictionaries(
           st.one_of(st.sampled_from(["n_estimators", "learning_rate", "max_depth", "n_jobs",
                                      "objective", "importance_type", "_Booster", "verbose",
                                      "missing", "device", "tree_method"]),
                     st.text(max_size=8)),
           st.recursive(st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40),
                                  st.floats(allow_nan=False), st.text(max_size=8)),
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                            st.text(max_size=3), inner, max_size=2), max_leaves=4),
           max_size=4))
def test_hostile_params_only_raise_clear_errors(wrapped_natives, flavor, params):
    native, model_class = wrapped_natives[flavor]
    crafted = boosters.bundle(flavor, native, model_class, [0, 1] if flavor == "lightgbm"
                              else None, {"params": params})
    try:
        loaded = get_flavor(flavor).load(crafted)
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
    else:
        assert type(loaded).__name__ == model_class.rsplit(".", 1)[1]


@pytest.fixture(scope="module")
def wrapped_natives(small):
    X, y = small
    lgbm = lgb.LGBMClassifier(n_estimators=2, num_leaves=4, verbose=-1, n_jobs=1).fit(X, y)
    xgbm = xgb.XGBClassifier(n_estimators=2, max_depth=2, n_jobs=1).fit(X, y)
    return {"lightgbm": (lgbm.booster_.model_to_string().encode(),
                         "lightgbm.sklearn.LGBMClassifier"),
            "xgboost": (boosters.xgboost_json(xgbm), "xgboost.sklearn.XGBClassifier")}
