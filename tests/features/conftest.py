"""Fixtures for the feature-store tests: the client's ``features`` facet on the test store,
and small frames built from fixed values (no downloads)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # never find a real project's .mlops/


@pytest.fixture
def features(client):
    """``client.features`` on the test store (SQLite and PostgreSQL)."""
    return client.features


def rides() -> pd.DataFrame:
    """Three drivers, a few rows each, naive times one hour apart."""
    t = pd.Timestamp("2024-01-01 00:00")
    h = pd.Timedelta(hours=1)
    return pd.DataFrame({
        "driver": [1, 1, 1, 2, 2, 3],
        "ts": [t, t + h, t + 3 * h, t + h, t + 2 * h, t],
        "trips": [10, 11, 12, 20, 21, 30],
        "rating": [4.5, 4.6, float("nan"), 3.9, 4.0, 5.0],
        "city": ["paris", "paris", "lyon", "nice", "nice", "lyon"],
    })
