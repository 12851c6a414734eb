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
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import _LIBRARY_ENV, _new_identity, _postgres_database


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
        url = f"sqlite:///{folder / 'mlops.db'}"
        _new_identity(url)
        try:
            yield url
        finally:
            forget_open_stores()
        return

    for url in _postgres_database(request, request.getfixturevalue("_postgres_template")):
        _new_identity(url)
        yield url


@pytest.fixture
def backend(backend_url: str) -> str:
    """``"sqlite"`` or ``"postgresql"``: for the few assertions that name a backend."""
    return "sqlite" if backend_url.startswith("sqlite") else "postgresql"
