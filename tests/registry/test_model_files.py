"""save_model_file / load_model_file: the model files pipeline steps hand each other."""

from __future__ import annotations

import operator
import pickle

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

import jupyter_mlops as mlops
from jupyter_mlops.errors import InvalidInputError, NotFoundError
from jupyter_mlops.registry.flavors import flavor_for_file

X, y = load_breast_cancer(return_X_y=True)
X, y = X[:120], y[:120]


class Unregistered:
    """Not a model any safe format knows; only pickle can hold it."""

    def predict(self, rows):
        return np.zeros(len(rows))


@pytest.mark.parametrize("model, flavor", [
    (make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)), "skops"),
    (RandomForestClassifier(n_estimators=5, random_state=0), "sklearn-trees"),
])
def test_a_model_comes_back_predicting_the_same(tmp_path, model, flavor):
    model.fit(X, y)
    path = mlops.save_model_file(model, tmp_path / "deep" / "m.model")
    assert path == tmp_path / "deep" / "m.model"
    data = path.read_bytes()
    assert flavor_for_file(data, path.name, None, False).name == flavor
    again = mlops.load_model_file(str(path))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert [p.name for p in path.parent.iterdir()] == ["m.model"]  # no temporary left


def test_replacing_a_file_leaves_the_new_model(tmp_path):
    path = tmp_path / "m.model"
    mlops.save_model_file(RandomForestClassifier(n_estimators=2, random_state=0).fit(X, y), path)
    mlops.save_model_file(LogisticRegression(max_iter=500).fit(X, y), path)
    assert type(mlops.load_model_file(path)).__name__ == "LogisticRegression"


def test_pickle_needs_trust_both_ways(tmp_path):
    path = tmp_path / "m.pkl"
    with pytest.raises(InvalidInputError, match="trusted=True"):
        mlops.save_model_file(Unregistered(), path)
    assert not path.exists()
    mlops.save_model_file(Unregistered(), path, trusted=True)
    with pytest.raises(InvalidInputError, match="runs code when loaded"):
        mlops.load_model_file(path)
    assert mlops.load_model_file(path, trusted=True).predict([1, 2]).tolist() == [0, 0]


def test_a_foreign_pickle_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.model"
    path.write_bytes(pickle.dumps(_Evil(str(marker))))
    with pytest.raises(InvalidInputError, match="pickle"):
        mlops.load_model_file(path)
    assert not marker.exists()


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_skops_file_naming_an_unsafe_type_is_refused_with_its_name(tmp_path):
    model = make_pipeline(FunctionTransformer(operator.neg), LogisticRegression(max_iter=500))
    path = mlops.save_model_file(model.fit(X, y), tmp_path / "m.model")
    with pytest.raises(InvalidInputError, match=r"_operator\.neg"):
        mlops.load_model_file(path)
    again = mlops.load_model_file(path, trusted_types="_operator.neg")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))


@pytest.mark.parametrize("content", [b"", b"hello", b"PK\x03\x04not a zip", b"{\"a\": 1}"])
def test_a_file_that_is_no_model_gets_one_line(tmp_path, content):
    path = tmp_path / "x.model"
    path.write_bytes(content)
    with pytest.raises(InvalidInputError) as info:
        mlops.load_model_file(path)
    assert "\n" not in str(info.value)


def test_missing_file_folder_and_bad_path(tmp_path):
    with pytest.raises(NotFoundError, match="No model file at"):
        mlops.load_model_file(tmp_path / "nope.model")
    with pytest.raises(InvalidInputError, match="is a folder"):
        mlops.load_model_file(tmp_path)
    for bad in ("", None, 3):
        with pytest.raises(InvalidInputError, match="non-empty str or path"):
            mlops.save_model_file(LogisticRegression(), bad)
        with pytest.raises(InvalidInputError, match="non-empty str or path"):
            mlops.load_model_file(bad)
