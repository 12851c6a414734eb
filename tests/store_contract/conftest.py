"""The store contract suite: the same tests against every backend, on a fresh database each.

``backend_url`` is parametrised like the root ``store_url`` (SQLite always; PostgreSQL when
``MLOPS_TEST_DB_URL`` is set, and required in CI — see ``tests/conftest.py``), but a test does
not pay for the migrations: each backend is migrated once per session into a template, and
every test gets its own copy (a copied SQLite file; ``CREATE DATABASE … TEMPLATE`` on
PostgreSQL, which copies files rather than replaying migrations). Only the metadata stores are parametrised
here; the artifact store's backends are a local folder and fsspec (``test_artifacts``).
"""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PG_URL_ENV, _LIBRARY_ENV, _postgres_database


def _migrate(url: str, artifact_root: Path) -> None:
    from jupyter_mlops.store import forget_open_stores, open_store

    open_store(url, str(artifact_root))
    forget_open_stores()  # no pooled connection may stay open on a template


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("contract-template")
    path = folder / "mlops.db"
    _migrate(f"sqlite:///{path}", folder / "artifacts")
    assert not path.with_name("mlops.db-wal").exists() or \
        path.with_name("mlops.db-wal").stat().st_size == 0  # checkpointed on close
    return path


@pytest.fixture(scope="session")
def _postgres_template(pg_admin_engine) -> Iterator[str]:
    import os

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"mlops_contract_tpl_{uuid.uuid4().hex[:16]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(os.environ[PG_URL_ENV]).set(database=name)
        _migrate(url.render_as_string(hide_password=False), Path("/nonexistent-artifacts"))
        yield name
    finally:
        with pg_admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(autouse=True)
def _isolated(monkeypatch, tmp_path: Path) -> None:
    # The store looks for a project's .mlops/ from the working directory and reads MLOPS_*
    # variables: a developer's real project and shell must never leak into a contract test.
    for name in _LIBRARY_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops-home"))
    monkeypatch.chdir(tmp_path)


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def backend_url(request, tmp_path: Path) -> Iterator[str]:
    """The SQLAlchemy URL of a fresh, migrated, empty store; once per backend."""
    from jupyter_mlops.store import forget_open_stores

    if request.param == "sqlite":
        folder = tmp_path / "store"
        folder.mkdir()
        shutil.copyfile(request.getfixturevalue("_sqlite_template"), folder / "mlops.db")
        try:
            yield f"sqlite:///{folder / 'mlops.db'}"
        finally:
            forget_open_stores()
        return

    yield from _postgres_database(request, request.getfixturevalue("_postgres_template"))


@pytest.fixture
def backend(backend_url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``: for the few assertions that name a backend."""
    return "sqlite" if backend_url.startswith("sqlite") else "postgresql"
