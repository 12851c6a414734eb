"""Fixtures for the store tests: isolation from the caller's folder, and helper processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HELPERS = Path(__file__).resolve().parent.parent / "helpers"


@pytest.fixture(autouse=True)
def _in_tmp_path(monkeypatch, tmp_path):
    # The store resolves a project's .mlops/ from the working directory (for its hash cache);
    # a developer's real project must never be touched by a test.
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def spawn_helper(subprocess_env):
    """Start ``tests/helpers/<name>`` with the test store's environment; killed at teardown."""
    started: list[subprocess.Popen] = []

    def spawn(name: str, *args: object, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen(
            [sys.executable, str(HELPERS / name), *map(str, args)],
            env=subprocess_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            **kwargs)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


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
