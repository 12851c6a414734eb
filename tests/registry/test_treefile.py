"""The ``sklearn-trees`` model file: exact round trips, skops fallback, crafted files refused."""

from __future__ import annotations

import io
import json
import os
import pickle
import zipfile

import numpy as np
import pytest

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import treefile
from jupyter_mlops.registry.flavors import save_model

CLASSES = [
    ("sklearn.tree", "DecisionTreeClassifier", {}),
    ("sklearn.tree", "DecisionTreeRegressor", {}),
    ("sklearn.tree", "ExtraTreeClassifier", {}),
    ("sklearn.tree", "ExtraTreeRegressor", {}),
    ("sklearn.ensemble", "RandomForestClassifier", {"n_estimators": 7}),
    ("sklearn.ensemble", "RandomForestRegressor", {"n_estimators": 7}),
    ("sklearn.ensemble", "ExtraTreesClassifier", {"n_estimators": 7}),
    ("sklearn.ensemble", "ExtraTreesRegressor", {"n_estimators": 7}),
]


def _cls(module: str, name: str):
    import importlib

    return getattr(importlib.import_module(module), name)


def _target(name: str, X, y):
    return y if name.endswith("Classifier") else X["mean radius"] * 2 + y


def _assert_same_predictions(loaded, model, X) -> None:
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    np.testing.assert_array_equal(loaded.apply(X), model.apply(X))
    np.testing.assert_array_equal(loaded.feature_importances_, model.feature_importances_)
    if hasattr(model, "predict_proba"):
        proba, expected = loaded.predict_proba(X), model.predict_proba(X)
        if isinstance(expected, list):  # multi-output
            for got, want in zip(proba, expected, strict=True):
                np.testing.assert_array_equal(got, want)
        else:
            np.testing.assert_array_equal(proba, expected)
    assert repr(loaded.get_params()) == repr(model.get_params())


def _round_trip(model):
    """dumps → loads, plus the check that the file passes inspect()."""
    data = treefile.dumps(model)
    assert treefile.inspect(data) == f"{type(model).__module__}.{type(model).__qualname__}"
    return treefile.loads(data)


# ---------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("module,name,kwargs", CLASSES, ids=[c[1] for c in CLASSES])
def test_each_tree_class_registers_in_the_fast_format_and_loads_back_exactly(
        reg, data, module, name, kwargs):
    X, y = data
    model = _cls(module, name)(random_state=0, max_depth=6, **kwargs).fit(X, _target(name, X, y))
    version = reg.register_model(model, "tree")
    assert version.flavor == "sklearn-trees"
    assert version.trusted_types == []  # nothing to vouch for: no type comes from the file
    assert version.model_class == f"{type(model).__module__}.{name}"
    loaded = reg.load_model("models:/tree/1")
    assert type(loaded.model) is type(model)
    _assert_same_predictions(loaded.model, model, X)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))  # via the signature
    assert list(loaded.model.feature_names_in_) == list(X.columns)


@pytest.mark.parametrize("variant", [
    "string-labels", "multi-output", "oob-and-weights", "pruned-float-max-features",
    "missing-values", "monotonic", "numpy-input-no-names", "regression-multi-output",
])
def test_fitted_attribute_variants_round_trip_exactly(data, variant):
    from sklearn.ensemble import ExtraTreesRegressor, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    X, y = data
    Xa = X.to_numpy()
    if variant == "string-labels":
        labels = np.where(y == 1, "benign", "malignant").astype(object)
        model = RandomForestClassifier(n_estimators=5, random_state=1).fit(X, labels)
    elif variant == "multi-output":
        Y = np.column_stack([y, (X["mean area"] > 600).astype(int) * 2 + y])
        model = RandomForestClassifier(n_estimators=4, random_state=2).fit(X, Y)
    elif variant == "oob-and-weights":
        model = RandomForestClassifier(n_estimators=60, oob_score=True, random_state=3,
                                       class_weight={0: 1.0, 1: 2.5}, max_samples=0.8).fit(X, y)
        assert model.oob_decision_function_.size > treefile._INLINE_MAX  # a .npy member
    elif variant == "pruned-float-max-features":
        model = DecisionTreeClassifier(ccp_alpha=0.005, max_features=0.5,
                                       random_state=4).fit(X, y)
    elif variant == "missing-values":
        Xm = X.copy()
        Xm.iloc[::7, 3] = np.nan
        model = RandomForestClassifier(n_estimators=5, random_state=5).fit(Xm, y)
        X = Xm
    elif variant == "monotonic":
        model = DecisionTreeRegressor(monotonic_cst=[1] + [0] * 29, max_depth=5,
                                      random_state=0).fit(X, y.astype(float))
    elif variant == "numpy-input-no-names":
        model = RandomForestClassifier(n_estimators=3, random_state=6).fit(Xa, y)
        X = Xa
    else:
        Y = np.column_stack([X["mean radius"], X["mean texture"] * 0.5])
        model = ExtraTreesRegressor(n_estimators=3, random_state=7).fit(X, Y)
    loaded = _round_trip(model)
    _assert_same_predictions(loaded, model, X)
    if variant == "oob-and-weights":
        assert loaded.oob_score_ == model.oob_score_
        np.testing.assert_array_equal(loaded.oob_decision_function_,
                                      model.oob_decision_function_)
    if variant == "string-labels":
        assert loaded.classes_.dtype == object and list(loaded.classes_) == list(model.classes_)


def test_a_file_from_a_big_endian_platform_loads_exactly(data, forest):
    X, _ = data
    header, arrays = _unpack(treefile.dumps(forest))
    arrays["nodes"] = arrays["nodes"].astype(arrays["nodes"].dtype.newbyteorder(">"))
    arrays["values"] = arrays["values"].astype(">f8").astype("<f8")  # values: native only
    loaded = treefile.loads(_pack(header, arrays))
    _assert_same_predictions(loaded, forest, X)


def test_the_file_is_small_and_has_a_fixed_set_of_members(data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    with zipfile.ZipFile(io.BytesIO(treefile.dumps(model))) as zf:
        assert sorted(zf.namelist()) == ["nodes.npy", "sklearn_trees.json", "values.npy"]
        assert all(i.compress_type == zipfile.ZIP_STORED for i in zf.infolist())


# ------------------------------------------------------------------------------ skops fallback
class MyForest(__import__("sklearn.ensemble", fromlist=["x"]).RandomForestClassifier):
    """A subclass may change behaviour: never stored in the fast format."""


@pytest.mark.parametrize("case", ["random-state-object", "subclass", "pipeline", "boosting"])
def test_models_the_fast_format_cannot_store_exactly_fall_back_to_skops(data, case):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data
    model = {
        "random-state-object": lambda: RandomForestClassifier(
            n_estimators=3, random_state=np.random.RandomState(0)),
        "subclass": lambda: MyForest(n_estimators=3, random_state=0),
        "pipeline": lambda: make_pipeline(StandardScaler(),
                                          RandomForestClassifier(n_estimators=3, random_state=0)),
        "boosting": lambda: GradientBoostingClassifier(n_estimators=3, random_state=0),
    }[case]().fit(X, y)
    flavor, saved = save_model(model, None, False)
    assert flavor.name == saved.flavor == "skops"
    assert saved.data[:4] == b"PK\x03\x04" and not treefile.is_tree_file(saved.data)


def test_fallback_model_registers_with_skops_and_loads(reg, data):
    from sklearn.ensemble import RandomForestClassifier

    X, y = data
    model = RandomForestClassifier(n_estimators=3, random_state=np.random.RandomState(0)).fit(X, y)
    version = reg.register_model(model, "rs")
    assert version.flavor == "skops" and "sklearn.tree._tree.Tree" in version.trusted_types
    np.testing.assert_array_equal(reg.load_model("models:/rs/1").predict(X), model.predict(X))


def test_asking_for_the_fast_format_for_an_unsupported_model_is_a_clear_error(reg, pipeline):
    with pytest.raises(InvalidInputError, match=r"sklearn-trees format cannot store .*Pipeline"):
        reg.register_model(pipeline, "p", flavor="sklearn-trees")
    assert reg.list_models() == []


def test_old_skops_versions_of_tree_models_still_load(reg, data, forest):
    import skops.io as sio

    X, _ = data
    # Registered today with an explicit flavor…
    v1 = reg.register_model(forest, "old", flavor="skops")
    assert v1.flavor == "skops" and v1.trusted_types == ["sklearn.tree._tree.Tree"]
    # …and a row + blob exactly as versions registered before the fast format were written.
    info = reg.client.store.blobs.put_bytes(sio.dumps(forest))
    reg.store.create_version("old", digest=info.digest, size=info.size, flavor="skops",
                             model_class="sklearn.ensemble._forest.RandomForestClassifier",
                             trusted_types=["sklearn.tree._tree.Tree"], signature=None,
                             input_example=None, metrics=None, description=None, run_id=None,
                             user="earlier")
    for n in (1, 2):
        loaded = reg.load_model(f"models:/old/{n}")
        np.testing.assert_array_equal(loaded.predict(X), forest.predict(X))
        np.testing.assert_array_equal(loaded.model.predict_proba(X), forest.predict_proba(X))


def test_a_runs_uri_file_in_the_fast_format_is_recognised(client, reg, data, forest):
    X, _ = data
    run = client.create_run()
    client.log_artifact(run.id, treefile.dumps(forest), "model.trees")
    version = reg.register_model(f"runs:/{run.id}/model.trees", "from-file")
    assert version.flavor == "sklearn-trees" and version.trusted_types == []
    assert version.model_class == "sklearn.ensemble._forest.RandomForestClassifier"
    np.testing.assert_array_equal(reg.load_model("models:/from-file/1").predict(X),
                                  forest.predict(X))
    client.end_run(run.id)


# ------------------------------------------------------------------------------ crafted files
class Exploit:
    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _unpack(data: bytes) -> tuple[dict, dict[str, np.ndarray]]:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        header = json.loads(zf.read(treefile.HEADER))
        arrays = {n[:-4]: np.load(io.BytesIO(zf.read(n)), allow_pickle=False)
                  for n in zf.namelist() if n.endswith(".npy")}
    return header, arrays


def _pack(header: dict | bytes, arrays: dict[str, object]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(treefile.HEADER,
                    header if isinstance(header, bytes) else json.dumps(header))
        for name, array in arrays.items():
            if isinstance(array, bytes):
                zf.writestr(f"{name}.npy", array)
                continue
            with zf.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(array), allow_pickle=True)
    return buf.getvalue()


def _pickled_object_array(marker) -> np.ndarray:
    return np.array([Exploit(str(marker)), 1], dtype=object)


def _first_tree(header):
    return header["root"]["state"]["estimators_"][0]["state"]


def _set_node(arrays, index, field, value):
    nodes = arrays["nodes"].copy()
    nodes[field][index] = value
    arrays["nodes"] = nodes


def _craft(case: str, header: dict, arrays: dict, marker) -> tuple[dict | bytes, dict]:
    root = header["root"]
    tree0 = _first_tree(header)
    if case == "root-class-os.system":
        root["class"] = "os.system"
    elif case == "nested-class-builtins.eval":
        header["root"]["state"]["estimators_"][1]["class"] = "builtins.eval"
    elif case == "object-array-member":
        root["state"]["classes_"] = {"$t": "npy", "name": "a0"}
        arrays["a0"] = _pickled_object_array(marker)
    elif case == "pickled-nodes":
        arrays["nodes"] = _pickled_object_array(marker)
    elif case == "pickle-as-header":
        return pickle.dumps(Exploit(str(marker))), arrays
    elif case == "object-dtype-inline":
        root["state"]["classes_"] = {"$t": "array", "dtype": "|O", "shape": [1], "v": [0]}
    elif case == "nodes-wrong-dtype":
        arrays["nodes"] = np.zeros(len(arrays["nodes"]), dtype=np.float64)
    elif case == "nodes-other-fields":
        arrays["nodes"] = np.zeros(len(arrays["nodes"]),
                                   dtype=[("left_child", "<i8"), ("right_child", "<i8")])
    elif case == "values-wrong-dtype":
        arrays["values"] = arrays["values"].astype(np.float32)
    elif case == "node-count-too-big":
        tree0["tree_"]["node_count"] += 10_000
    elif case == "unused-rows":
        arrays["nodes"] = np.concatenate([arrays["nodes"], arrays["nodes"][:1]],
                                         dtype=arrays["nodes"].dtype)
    elif case == "child-outside-tree":
        _set_node(arrays, 0, "left_child", tree0["tree_"]["node_count"] + 3)
    elif case == "child-backwards-cycle":
        _set_node(arrays, 0, "right_child", 0)
    elif case == "one-child":
        leaf = int(np.flatnonzero(arrays["nodes"]["left_child"] == -1)[0])
        _set_node(arrays, leaf, "right_child", leaf + 1)
    elif case == "feature-out-of-range":
        _set_node(arrays, 0, "feature", 10_000)
    elif case == "n-features-disagree":
        tree0["n_features_in_"] = 5
    elif case == "n-features-missing":
        del tree0["n_features_in_"]
    elif case == "n-classes-vs-outputs":
        tree0["tree_"]["n_outputs"] = 3
    elif case == "unknown-tag":
        root["state"]["n_outputs_"] = {"$t": "callable", "v": "os.system"}
    elif case == "dunder-attribute":
        root["state"]["__class__"] = "x"
    elif case == "future-format-version":
        header["version"] = 2
    else:  # pragma: no cover
        raise AssertionError(case)
    return header, arrays


CRAFTED = {
    "root-class-os.system": r"names the class 'os\.system'",
    "nested-class-builtins.eval": r"names the class 'builtins\.eval'",
    "object-array-member": r"allow_pickle",
    "pickled-nodes": r"allow_pickle",
    "pickle-as-header": r"not a valid sklearn-trees model file",
    "object-dtype-inline": r"dtype '\|O' is not allowed",
    "nodes-wrong-dtype": r"not the tree node layout",
    "nodes-other-fields": r"not the tree node layout",
    "values-wrong-dtype": r"1-d float64",
    "node-count-too-big": r"runs past the end",
    "unused-rows": r"rows no tree uses",
    "child-outside-tree": r"child lies outside its tree or before it",
    "child-backwards-cycle": r"child lies outside its tree or before it",
    "one-child": r"exactly one child",
    "feature-out-of-range": r"feature the model does not have",
    "n-features-disagree": r"disagree on the number of features",
    "n-features-missing": r"n_features_in_ is missing",
    "n-classes-vs-outputs": r"n_classes must list one positive count per output",
    "unknown-tag": r"unknown tag 'callable'",
    "dunder-attribute": r"sets '__class__'",
    "future-format-version": r"format version 2",
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_files_are_refused_with_a_clear_error_and_nothing_runs(forest, tmp_path, case):
    marker = tmp_path / "pwned"
    header, arrays = _unpack(treefile.dumps(forest))
    data = _pack(*_craft(case, header, arrays, marker))
    for read in (treefile.loads, treefile.inspect):
        with pytest.raises(InvalidInputError, match=CRAFTED[case]):
            read(data)
    assert not marker.exists()


def test_the_pickled_payload_really_would_run_code_if_unpickled(tmp_path):
    # Proves the cases above can fail: numpy with allow_pickle=True does execute it.
    marker = tmp_path / "pwned"
    buf = io.BytesIO()
    np.lib.format.write_array(buf, _pickled_object_array(marker), allow_pickle=True)
    buf.seek(0)
    np.lib.format.read_array(buf, allow_pickle=True)
    assert marker.exists()


def test_crafted_version_is_refused_at_load_through_the_registry(reg, forest, tmp_path):
    marker = tmp_path / "pwned"
    header, arrays = _unpack(treefile.dumps(forest))
    for case in ("root-class-os.system", "object-array-member"):
        data = _pack(*_craft(case, json.loads(json.dumps(header)), dict(arrays), marker))
        info = reg.client.store.blobs.put_bytes(data)
        version = reg.store.create_version(
            "evil", digest=info.digest, size=info.size, flavor="sklearn-trees",
            model_class="x.Y", trusted_types=[], signature=None, input_example=None,
            metrics=None, description=None, run_id=None, user="mallory")
        with pytest.raises(InvalidInputError, match=CRAFTED[case]):
            reg.load_model(f"models:/evil/{version.version}", trusted=True,
                           trusted_types=["os.system"])  # trust cannot widen the class list
    assert not marker.exists()


def test_a_pickle_planted_as_a_fast_format_version_is_not_unpickled(reg, tmp_path):
    marker = tmp_path / "pwned"
    info = reg.client.store.blobs.put_bytes(pickle.dumps(Exploit(str(marker))))
    reg.store.create_version("evil", digest=info.digest, size=info.size, flavor="sklearn-trees",
                             model_class="x.Y", trusted_types=[], signature=None,
                             input_example=None, metrics=None, description=None, run_id=None,
                             user="mallory")
    with pytest.raises(InvalidInputError, match="not a readable sklearn-trees"):
        reg.load_model("models:/evil/1")
    assert not marker.exists()


def test_crafted_fast_format_file_from_a_run_is_refused_at_register(client, reg, forest,
                                                                    tmp_path):
    header, arrays = _unpack(treefile.dumps(forest))
    data = _pack(*_craft("nested-class-builtins.eval", header, arrays, tmp_path / "m"))
    run = client.create_run()
    client.log_artifact(run.id, data, "model.trees")
    with pytest.raises(InvalidInputError, match=r"builtins\.eval"):
        reg.register_model(f"runs:/{run.id}/model.trees", "evil")
    assert reg.list_models() == []
    client.end_run(run.id)
