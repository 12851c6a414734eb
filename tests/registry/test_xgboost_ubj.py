"""XGBoost's UBJSON model files (``save_model("x.ubj")``) in the registry, with the real
library: registered and loaded like its JSON files, through XGBoost's own loader; a damaged or
crafted file — UBJSON or JSON — is refused in one line before XGBoost reads a byte of it
(its UBJSON reader trusts the lengths in the file, and its model loader the indices: one
changed byte of a real model crashed the process before the checks)."""

from __future__ import annotations

import contextlib
import copy
import json
import struct

import numpy as np
import pytest
import xgboost as xgb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry import ubjson
from jupyter_mlops.registry.flavors import get_flavor
from jupyter_mlops.registry.model_files import load_model_file
from jupyter_mlops.registry.run_model import log_model


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.rand(120, 4)
    return X, (X[:, 0] + X[:, 1] > 1).astype(int)


@pytest.fixture(scope="module")
def booster(data):
    X, y = data
    return xgb.train({"max_depth": 2, "nthread": 1}, xgb.DMatrix(X, label=y), 3)


@pytest.fixture
def xgboost_never_reads(monkeypatch):
    """XGBoost's loader failing the test: a refusal must come before it."""

    def reached(*args, **kwargs):
        raise AssertionError("XGBoost's loader was given the file")

    monkeypatch.setattr(xgb.Booster, "load_model", reached)


def encode(value) -> bytes:
    """UBJSON as XGBoost reads it (generic arrays; ints as int64, floats as double)."""
    if value is None:
        return b"Z"
    if isinstance(value, bool):
        return b"T" if value else b"F"
    if isinstance(value, int):
        return b"L" + struct.pack(">q", value)
    if isinstance(value, float):
        return b"D" + struct.pack(">d", value)
    if isinstance(value, str):
        return b"S" + _text(value)
    if isinstance(value, list):
        return b"[#L" + struct.pack(">q", len(value)) + b"".join(map(encode, value))
    return b"{" + b"".join(_text(k) + encode(v) for k, v in value.items()) + b"}"


def _text(text: str) -> bytes:
    raw = text.encode()
    return b"L" + struct.pack(">q", len(raw)) + raw


def test_ubj_files_register_and_load_like_json(client, data, booster, tmp_path, no_unpickling):
    X, y = data
    model = xgb.XGBClassifier(n_estimators=4, max_depth=2, learning_rate=0.3, n_jobs=1).fit(X, y)
    booster.save_model(tmp_path / "booster.ubj")
    model.save_model(tmp_path / "wrapper.ubj")
    with mlops.start_run() as bare_run:
        client.log_artifact(bare_run.id, (tmp_path / "booster.ubj").read_bytes(),
                            "model/xgboost.ubj")
    with mlops.start_run() as wrapper_run:
        log_model(client, wrapper_run.id, model)  # xgboost.json and model.json
        client.log_artifact(wrapper_run.id, (tmp_path / "wrapper.ubj").read_bytes(),
                            "model/xgboost.ubj")
    client.flush()

    bare = client.registry.register_model(f"runs:/{bare_run.id}/model/xgboost.ubj", "ubj")
    artifact = client.store.catalog.get_artifact(bare_run.id, "model/xgboost.ubj")
    assert (bare.flavor, bare.model_class) == ("xgboost", "xgboost.core.Booster")
    assert bare.digest == artifact.digest  # the run's own file, as for JSON
    loaded = client.registry.load_model("models:/ubj/1")
    assert isinstance(loaded.model, xgb.Booster)
    np.testing.assert_allclose(loaded.predict(X), booster.predict(xgb.DMatrix(X)), rtol=1e-6)

    # Beside the run's model.json: the wrapper, its labels and constructor params.
    wrapper = client.registry.register_model(f"runs:/{wrapper_run.id}/model/xgboost.ubj",
                                             "ubj")
    assert wrapper.model_class == "xgboost.sklearn.XGBClassifier"
    loaded = client.registry.load_model("models:/ubj/2").model
    assert type(loaded) is xgb.XGBClassifier and loaded.get_params()["learning_rate"] == 0.3
    np.testing.assert_allclose(loaded.predict_proba(X), model.predict_proba(X), rtol=1e-6)

    assert isinstance(load_model_file(tmp_path / "booster.ubj"), xgb.Booster)


def test_the_decoder_reads_what_xgboost_writes(booster):
    from_ubj = ubjson.loads(bytes(booster.save_raw(raw_format="ubj")))
    from_json = json.loads(bytes(booster.save_raw(raw_format="json")))
    tree, expected = (d["learner"]["gradient_booster"]["model"]["trees"][0]
                      for d in (from_ubj, from_json))
    assert set(tree) == set(expected)
    assert tree["left_children"].tolist() == expected["left_children"]  # a typed array
    np.testing.assert_allclose(tree["split_conditions"], expected["split_conditions"])
    # Re-encoded with generic arrays, the same model still loads and predicts the same.
    again = get_flavor("xgboost").load(encode(from_json))
    assert again.save_raw(raw_format="json") == booster.save_raw(raw_format="json")


_HEAD = b"{" + _text("learner")


@pytest.mark.parametrize("damage, message", [
    (lambda raw: raw[:-9], "not UBJSON (.* runs past the end|the file ends inside)"),
    (lambda raw: raw + b"Z", "not UBJSON \\(1 bytes follow the document\\)"),
    (lambda raw: b"{L" + struct.pack(">q", 10**6) + raw[10:], "claims 1000000 items"),
    (lambda raw: b"{L" + struct.pack(">q", -5) + raw[10:], "claims -5 items"),
    (lambda raw: _HEAD + b"X", "unknown marker b'X'"),
    (lambda raw: _HEAD + b"[" * 40, "nesting deeper than 32"),
    (lambda raw: _HEAD + b"[ZZZ", "the file ends inside the document"),
    (lambda raw: _HEAD + b"[$d#L" + struct.pack(">q", 3) + b"\0" * 8, "runs past the end"),
    (lambda raw: _HEAD + b"[$S#L" + struct.pack(">q", 1), "typed array of b'S'"),
    (lambda raw: encode({"a": 1}), "no 'learner' object"),
])
def test_a_damaged_ubj_file_is_refused_at_registration_in_one_line(
        client, booster, xgboost_never_reads, damage, message):
    with mlops.start_run() as run:
        client.log_artifact(run.id, damage(bytes(booster.save_raw(raw_format="ubj"))),
                            "model/xgboost.ubj")
    client.flush()
    with pytest.raises(InvalidInputError, match=message) as refused:
        client.registry.register_model(f"runs:/{run.id}/model/xgboost.ubj", "bad")
    assert "\n" not in str(refused.value) and len(str(refused.value)) < 400
    assert "not a readable xgboost model file" in str(refused.value)


def _model(document):
    return document["learner"]["gradient_booster"]["model"]


def _set(path, value):
    def change(document):
        target = _model(document)
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return change


@pytest.mark.parametrize("fmt", ["json", "ubj"])
@pytest.mark.parametrize("crafted, message", [
    (_set(["trees", 0, "left_children", 0], 99), "a child index outside the tree"),
    (_set(["trees", 0, "right_children", 0], 1), "a node is the child of two nodes"),
    (_set(["trees", 0, "parents", 1], 10**6), "a parent index outside the tree"),
    (_set(["trees", 0, "parents", 2], 1), "a child whose parent is another node"),
    (_set(["trees", 0, "split_indices", 0], 50), "a split on a feature outside 0 … 3"),
    (_set(["trees", 0, "tree_param", "num_nodes"], "1000"), "has 7 entries, not 1000"),
    (_set(["trees", 1, "id"], 0), "tree ids are not 0 … num_trees-1, each once"),
    (_set(["tree_info", 0], 5), "tree_info names an output group outside 0 … 0"),
    (_set(["iteration_indptr"], [0, 7]), "iteration_indptr does not rise from 0"),
    (_set(["trees", 0, "categories_nodes"], [0]), "categories_nodes are not the nodes"),
    (_set(["trees", 0, "tree_param", "size_leaf_vector"], "2"), "a multi-target tree"),
])
def test_a_crafted_model_is_refused_before_xgboost_reads_it(booster, xgboost_never_reads,
                                                             fmt, crafted, message):
    """Indices XGBoost trusts: each of these made it read or write outside its arrays."""
    document = json.loads(bytes(booster.save_raw(raw_format="json")))
    assert _model(document)["trees"][0]["tree_param"]["num_nodes"] == "7"
    crafted(document)
    data = json.dumps(document).encode() if fmt == "json" else encode(document)
    with pytest.raises(InvalidInputError, match=message) as refused:
        get_flavor("xgboost").load(data)
    assert "\n" not in str(refused.value)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prefix=st.sampled_from([b"", b"{L", b"{L\0\0\0\0\0\0\0\x07learner"]),
       body=st.binary(max_size=200))
def test_random_bytes_only_raise_clear_errors(prefix, body):
    with pytest.raises(InvalidInputError) as refused:
        get_flavor("xgboost").load(prefix + body)
    assert "\n" not in str(refused.value)


@pytest.fixture(scope="module")
def ubj_model(booster):
    return bytes(booster.save_raw(raw_format="ubj"))


@settings(max_examples=300, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(changes=st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(0, 255)),
                        min_size=1, max_size=3))
def test_a_real_model_with_changed_bytes_loads_or_is_refused(ubj_model, data, changes):
    """Never a crash: each change is a byte of a real model set to another value."""
    mutated = bytearray(ubj_model)
    for where, value in changes:
        mutated[int(where * len(mutated))] = value
    try:
        model = get_flavor("xgboost").load(bytes(mutated))
    except InvalidInputError as exc:
        assert "\n" not in str(exc)
        return
    with contextlib.suppress(Exception):  # an XGBoost error is fine; a crash is not
        model.inplace_predict(data[0])


def test_the_mlflow_door_checks_an_xgboost_file_before_xgboost_reads_it(booster,
                                                                      xgboost_never_reads):
    from jupyter_mlops.registry.mlflow_boosters import SKIPPED, from_mlflow_folder

    document = json.loads(bytes(booster.save_raw(raw_format="json")))
    crafted = copy.deepcopy(document)
    _set(["trees", 0, "parents", 1], 10**6)(crafted)
    notes: list[str] = []
    files = {"MLmodel": lambda: b"flavors:\n  xgboost:\n    data: model.ubj\n",
             "model.ubj": lambda: encode(crafted)}
    assert from_mlflow_folder(files, notes.append, "model 'm' version 1") == SKIPPED
    assert "XGBoost could not read model.ubj (This is not a readable xgboost model file: " \
           "a parent index outside the tree" in notes[0]
