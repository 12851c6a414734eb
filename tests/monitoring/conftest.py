"""Fixtures for monitoring tests: a registered classifier with a ``champion`` alias and
reference/current frames made from fixed seeds (no network, no downloads)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

FEATURES = ["a", "b", "c"]


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # never find a real project's .mlops/


def make_frame(n: int, seed: int, shift: float = 0.0, city_p=(0.5, 0.3, 0.2)) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "a": rng.normal(shift, 1.0, n),
        "b": rng.normal(0.0, 1.0, n),
        "c": rng.uniform(0, 10, n),
        "city": rng.choice(["paris", "lyon", "nice"], n, p=list(city_p)),
    })


@pytest.fixture(scope="session")
def reference() -> pd.DataFrame:
    return make_frame(3000, seed=1)


@pytest.fixture(scope="session")
def model(reference):
    from sklearn.linear_model import LogisticRegression

    y = (reference["a"] + reference["b"] > 0).astype(int)
    return LogisticRegression().fit(reference[FEATURES], y)


@pytest.fixture
def registered(client, model, reference):
    """``clf`` version 1 with alias ``champion``."""
    reg = client.registry
    v = reg.register_model(model, "clf", input_example=reference[FEATURES].head())
    reg.set_alias("clf", "champion", v.version)
    return v


def truth(frame: pd.DataFrame) -> np.ndarray:
    return (frame["a"] + frame["b"] > 0).astype(int).to_numpy()
