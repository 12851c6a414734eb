"""Continuous training: the champion alias moves only to a version that scores better."""

from __future__ import annotations

import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.dummy import DummyClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from jupyter_mlops.errors import InvalidInputError
from jupyter_mlops.registry.continuous import promote_if_better

# Fits and registers real models: 14.5 s and 31.6 s measured (load 9).
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    return train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)


def test_champion_moves_only_when_the_candidate_is_better(reg, data):
    X_train, X_test, y_train, y_test = data
    weak = DummyClassifier(strategy="most_frequent").fit(X_train, y_train)
    strong = LogisticRegression(max_iter=5000).fit(X_train, y_train)
    v1 = reg.register_model(weak, "cancer").version
    first = promote_if_better(reg, "cancer", v1, X_test, y_test)
    assert first.promoted and first.champion_version is None
    assert reg.get_version("cancer", "champion").version == v1

    v2 = reg.register_model(strong, "cancer").version
    second = promote_if_better(reg, "cancer", v2, X_test, y_test, margin=0.01)
    assert second.promoted and second.candidate_score > second.champion_score + 0.01
    assert reg.get_version("cancer", "champion").version == v2

    v3 = reg.register_model(weak, "cancer").version
    third = promote_if_better(reg, "cancer", v3, X_test, y_test)
    assert not third.promoted and third.champion_version == v2
    assert reg.get_version("cancer", "champion").version == v2  # unchanged
    moves = [h for h in reg.alias_history("cancer") if h.action == "set_alias"]
    assert len(moves) == 2 and all("continuous training" in (h.reason or "") for h in moves)
    assert "accuracy" in moves[-1].reason and f"version {v1}" in moves[-1].reason


def test_unknown_metric_is_refused_before_anything_moves(reg, data):
    X_train, X_test, y_train, y_test = data
    v = reg.register_model(LogisticRegression(max_iter=5000).fit(X_train, y_train), "m").version
    with pytest.raises(InvalidInputError, match="Unknown metric 'auc'"):
        promote_if_better(reg, "m", v, X_test, y_test, metric="auc")
    with pytest.raises(Exception):
        reg.get_version("m", "champion")
