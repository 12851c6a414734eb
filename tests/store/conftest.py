"""Fixtures for the store tests: isolation from the caller's folder, and helper processes."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    # The store resolves a project's .mlops/ from the working directory (for its hash cache);
    # a developer's real project must never be touched by a test.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def spawn_helper(spawn_python):
    """Start ``tests/helpers/<name>`` with the test store's environment; killed at teardown."""

    def spawn(name: str, *args: object, **kwargs) -> subprocess.Popen:
        return spawn_python(HELPERS / name, *args, **kwargs)

    return spawn


class RawDB:
    """Direct SQL on the test store, bypassing the code under test (to check or tamper)."""

    def __init__(self, url: str):
        from sqlalchemy import create_engine
        from sqlalchemy.pool import NullPool

        self.url = url
        self.engine = create_engine(url, poolclass=NullPool)

    def rows(self, sql: str, **params) -> list[tuple]:
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]

    def scalar(self, sql: str, **params):
        from sqlalchemy import text

        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def execute(self, sql: str, **params) -> None:
        from sqlalchemy import text

        with self.engine.begin() as conn:
            conn.execute(text(sql), params)


@pytest.fixture
def raw_db(store_url):
    db = RawDB(store_url)
    yield db
    db.engine.dispose()
