"""Fixtures shared by every test folder: ``tmp_path`` → ``store_url`` → ``store`` → ``client``.

``store_url`` is parametrised over the backends the store supports:

* ``sqlite`` — always: a fresh database file under ``tmp_path``;
* ``postgres`` — a fresh database (``CREATE DATABASE`` with a unique name, dropped after the
  test) on the server named by ``MLOPS_TEST_DB_URL``, e.g. the one
  ``eval "$(scripts/pg-test-server start)"`` starts. Without that variable the postgres cases
  are skipped — except when ``CI`` is set, where they fail: CI must never pass by silently
  not testing PostgreSQL.

Every test that asks for ``store``/``client`` therefore runs once per backend; select one with
``-k sqlite`` / ``-m "not postgres"``, or pin one for a whole folder by overriding
``store_url`` in that folder's ``conftest.py``.

``client`` is a :class:`jupyter_mlops.Client` on that store, also installed as the fluent
API's default client, with ``MLOPS_TRACKING_URI``/``MLOPS_ARTIFACT_ROOT`` pointing at the same
store so that anything resolving the default store — the fluent API, a spawned kernel or
helper process (see ``subprocess_env``), the server extension — sees the same data.

This file registers no plugins and defines no ``jp_*`` fixtures, so folders that load
``pytest_jupyter`` in their own ``conftest.py`` are unaffected.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops.cli.own_process import without_eager_iri_parser

# The test processes are this project's own, as the CLI's are: jsonschema's IRI parser
# (3 s of CPU at import; see own_process) is not built in each xdist worker. Nothing the
# tests validate uses an `iri` format (the in-process Jupyter servers' event schemas do not
# either); kernels and child processes are unaffected, and tests/test_own_process.py checks
# both sides in fresh processes.
without_eager_iri_parser()

PG_URL_ENV = "MLOPS_TEST_DB_URL"
#: Variables a developer's shell might carry that would leak into tests through the library.
_LIBRARY_ENV = (
    "MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_HOME", "MLOPS_USER", "MLOPS_EXPERIMENT",
    "MLOPS_HEARTBEAT_SECONDS", "MLOPS_DEAD_AFTER_SECONDS", "MLOPS_NOTEBOOK_PATH",
    "MLOPS_PARENT_RUN_ID", "MLOPS_RUN_ID", "MLOPS_SEARCH_INDEX", "MLOPS_SEARCH_INDEX_MAX_RUNS",
    "MLOPS_ARCHIVE_MAX_BYTES", "MLOPS_ARCHIVE_MAX_RATIO", "MLOPS_EXIT_FLUSH_SECONDS",
    "MLOPS_SERVE_MAX_JSON_DEPTH",
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def pytest_report_header(config) -> str:
    url = os.environ.get(PG_URL_ENV)
    if url:
        from sqlalchemy.engine import make_url

        pg = f"postgres at {make_url(url).render_as_string(hide_password=True)}"
    elif in_ci():
        pg = f"postgres REQUIRED in CI but {PG_URL_ENV} is unset: those tests will fail"
    else:
        pg = f"postgres skipped (set {PG_URL_ENV}, e.g. eval \"$(scripts/pg-test-server start)\")"
    return f"jupyter-mlops store backends: sqlite, {pg}"


# ----------------------------------------------------------------------------- PostgreSQL
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items) -> None:
    """Longest files first, so no long file starts last on an otherwise idle machine
    (see ``tests/scheduling.py``; xdist keeps this order with ``--no-loadscope-reorder``)."""
    from tests.scheduling import load_weights, order_longest_first

    # scripts/run-tests collects only tests/ui for the browser phase (collecting the whole
    # suite costs each browser worker ~30 s of CPU): a browser test elsewhere would never run.
    astray = [item.nodeid for item in items if item.get_closest_marker("browser")
              and not item.nodeid.startswith("tests/ui/")]
    if astray:
        raise pytest.UsageError(f"browser tests must live under tests/ui/ (scripts/run-tests "
                                f"runs only that folder with -m browser): {astray[:3]}")
    items[:] = order_longest_first(items, load_weights())


def pytest_configure(config) -> None:
    if config.pluginmanager.hasplugin("xdist"):
        from tests.scheduling import XdistScopes

        config.pluginmanager.register(XdistScopes(), "mlops-xdist-scopes")


@pytest.fixture(scope="session")
def pg_admin_engine():
    """An AUTOCOMMIT engine on the server's maintenance database (CREATE/DROP DATABASE)."""
    url = os.environ.get(PG_URL_ENV)
    if not url:
        if in_ci():
            pytest.fail(
                f"CI is set but {PG_URL_ENV} is not: the PostgreSQL store tests cannot run. "
                "Start a server with `eval \"$(scripts/pg-test-server start)\"` before pytest.",
                pytrace=False)
        pytest.skip(f"PostgreSQL store tests need {PG_URL_ENV} "
                    "(eval \"$(scripts/pg-test-server start)\")")
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # a set-but-dead server is an error, never a skip
        pytest.fail(f"{PG_URL_ENV} is set but the server does not answer: {exc}", pytrace=False)
    yield engine
    engine.dispose()


def _postgres_database(request, template: str | None = None) -> Iterator[str]:
    """A fresh database's URL, dropped afterwards; a copy of ``template`` when given."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin = request.getfixturevalue("pg_admin_engine")
    name = f"mlops_test_{uuid.uuid4().hex[:20]}"
    with admin.connect() as conn:
        copy = ""
        if template:
            # FILE_COPY (PostgreSQL 15+) copies the template's files in a third of the time
            # the default WAL-logged copy takes; older servers only know the file copy anyway.
            strategy = " STRATEGY FILE_COPY" if conn.dialect.server_version_info >= (15,) else ""
            copy = f' TEMPLATE "{template}"{strategy}'
        conn.execute(text(f'CREATE DATABASE "{name}"{copy}'))
    try:
        yield make_url(os.environ[PG_URL_ENV]).set(database=name).render_as_string(
            hide_password=False)
    finally:
        from jupyter_mlops.store import forget_open_stores

        forget_open_stores()  # close this process's pooled connections first
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


# ----------------------------------------------------------------------------- templates
def _migrate(url: str, artifact_root: Path) -> None:
    from jupyter_mlops.store import forget_open_stores, open_store

    open_store(url, str(artifact_root))
    forget_open_stores()  # no pooled connection may stay open on a template


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory) -> Path:
    """A migrated, empty SQLite store, migrated once per session: tests copy the file."""
    folder = tmp_path_factory.mktemp("store-template")
    path = folder / "mlops.db"
    _migrate(f"sqlite:///{path}", folder / "artifacts")
    assert not path.with_name("mlops.db-wal").exists() or \
        path.with_name("mlops.db-wal").stat().st_size == 0  # checkpointed on close
    return path


@pytest.fixture(scope="session")
def _postgres_template(pg_admin_engine) -> Iterator[str]:
    """Name of a migrated, empty PostgreSQL database that tests copy (``TEMPLATE``)."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"mlops_test_tpl_{uuid.uuid4().hex[:16]}"
    with pg_admin_engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        url = make_url(os.environ[PG_URL_ENV]).set(database=name)
        _migrate(url.render_as_string(hide_password=False), Path("/nonexistent-artifacts"))
        yield name
    finally:
        with pg_admin_engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _new_identity(url: str) -> None:
    """Give a copy of a template its own store id (migration 0009 wrote the template's): two
    copies must tell each other apart, as two real stores do (a sync to itself is refused)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            conn.execute(text("UPDATE store_identity SET id = :id"), {"id": uuid.uuid4().hex})
    finally:
        engine.dispose()


# ----------------------------------------------------------------------------- the layers
#: Fixtures that open (and so migrate) the store first thing: a test using one gets a copy of
#: the session's migrated template instead of replaying every migration on an empty database.
_OPENS_STORE = ("store", "client")


@pytest.fixture(params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
])
def store_url(request, tmp_path: Path) -> Iterator[str]:
    """SQLAlchemy URL of a store of its own, once per backend.

    Empty (no tables) unless the test uses ``store``/``client``, which would migrate it at
    once anyway: then it is a copy of a template migrated once per session (the same schema
    and rows, without replaying the migrations in every test).
    """
    migrated = any(name in request.fixturenames for name in _OPENS_STORE)
    if request.param == "sqlite":
        folder = tmp_path / "store"
        folder.mkdir()
        url = f"sqlite:///{folder / 'mlops.db'}"
        if migrated:
            shutil.copyfile(request.getfixturevalue("_sqlite_template"), folder / "mlops.db")
            _new_identity(url)
        yield url
    else:
        template = request.getfixturevalue("_postgres_template") if migrated else None
        for url in _postgres_database(request, template):
            if migrated:
                _new_identity(url)
            yield url


@pytest.fixture
def artifact_root(tmp_path: Path) -> str:
    return str(tmp_path / "artifacts")


@pytest.fixture
def mlops_env(monkeypatch, tmp_path: Path, store_url: str, artifact_root: str) -> dict[str, str]:
    """Point the library's environment variables at the test store (and nothing else)."""
    for name in _LIBRARY_ENV:
        monkeypatch.delenv(name, raising=False)
    env = {
        "MLOPS_TRACKING_URI": store_url,
        "MLOPS_ARTIFACT_ROOT": artifact_root,
        # Where caches go when the store is not a local SQLite file; never the user's ~/.mlops.
        "MLOPS_HOME": str(tmp_path / "mlops-home"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


@pytest.fixture
def store(mlops_env, store_url: str, artifact_root: str):
    """The opened (migrated) :class:`jupyter_mlops.store.Store`."""
    from jupyter_mlops.store import forget_open_stores, open_store

    try:
        yield open_store(store_url, artifact_root)
    finally:
        forget_open_stores()


@pytest.fixture
def client(store, store_url: str, artifact_root: str):
    """A :class:`jupyter_mlops.Client` on ``store``, also the fluent API's default client."""
    from jupyter_mlops import fluent
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    c = Client(store_url, artifact_root)
    fluent.set_client(c)
    try:
        yield c
    finally:
        try:
            # Stop the writer threads (they would otherwise heartbeat into a dropped store
            # for the rest of the session) after writing what the test left queued.
            others = {id(c): c}
            fluent_client = getattr(fluent, "_client", None)
            if fluent_client is not None:
                others.setdefault(id(fluent_client), fluent_client)
            for each in others.values():
                each.writer.close()
        finally:
            fluent.set_client(None)
            forget_open_stores()


@pytest.fixture
def subprocess_env(mlops_env) -> dict[str, str]:
    """Environment for child processes (helpers, kernels) that must use the test store.

    Includes ``PYTHONPATH`` so a child imports the same ``jupyter_mlops`` as this process,
    installed or not.
    """
    import jupyter_mlops

    package_parent = str(Path(jupyter_mlops.__file__).resolve().parent.parent)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_parent, env.get("PYTHONPATH", "")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    return env


@pytest.fixture
def spawn_python(subprocess_env):
    """Start ``python *args`` on the test store (text stdout/stderr piped); killed at teardown.

    Every process it started and still running at teardown is killed, and all are reaped with
    their pipes read and closed. Extra keyword arguments go to ``subprocess.Popen``.
    """
    import subprocess
    import sys

    started: list[subprocess.Popen] = []

    def spawn(*args: object, **kwargs) -> subprocess.Popen:
        proc = subprocess.Popen([sys.executable, *map(str, args)], env=subprocess_env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                **kwargs)
        started.append(proc)
        return proc

    yield spawn
    for proc in started:
        if proc.poll() is None:
            proc.kill()
        if proc.stdin is not None and proc.stdin.closed:
            proc.stdin = None  # closed by the test: communicate() would flush it (Python 3.11)
        proc.communicate(timeout=60)


@pytest.fixture
def autologging(client):
    """``mlops.autolog()`` on the test's client; off again after, with no run left active."""
    import jupyter_mlops as mlops
    from jupyter_mlops import fluent

    mlops.autolog()
    yield client
    mlops.autolog(disable=True)
    if fluent.active_run() is not None:
        fluent.end_run()
