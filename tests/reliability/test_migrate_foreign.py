"""``jupyter mlops migrate`` pointed at something that is not a store leaves it untouched.

Issue 12 item 9: an MLflow database given as ``--from`` used to be opened like a store of
ours: the engine's ``journal_mode=WAL`` pragma rewrote its header and the command advised
"upgrade jupyter-mlops". Now the source is identified first (``store/identify.py``) and only
ever opened read-only. For every kind of source — missing, a folder, an empty file, random
bytes, a damaged SQLite file, a database without tables, an MLflow tracking database, another
application's database, a jupyter-mlops store at an older or a newer schema — the command
exits non-zero, names the kind in one line, and leaves every file of the source's folder
byte for byte and mtime for mtime as it was, with no ``-wal``/``-shm``/``-journal`` file
appearing and no target created.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import sqlite3
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from jupyter_mlops.cli import main
from jupyter_mlops.store.identify import SQLITE_MAGIC
from tests.reliability.faults import record

#: A real MLflow revision (mlflow/store/db_migrations/versions/89d4b8295536_create_latest_
#: metrics_table.py) and the shape of MLflow's core tables.
MLFLOW_REVISION = "89d4b8295536"
MLFLOW_SCHEMA = """
CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, name VARCHAR(256) NOT NULL UNIQUE,
  artifact_location VARCHAR(256), lifecycle_stage VARCHAR(32));
CREATE TABLE runs (run_uuid VARCHAR(32) PRIMARY KEY, name VARCHAR(250), experiment_id INTEGER
  REFERENCES experiments (experiment_id), status VARCHAR(9), start_time BIGINT,
  end_time BIGINT, lifecycle_stage VARCHAR(20));
CREATE TABLE metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL, timestamp BIGINT NOT NULL,
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs (run_uuid), step BIGINT NOT NULL DEFAULT 0,
  is_nan BOOLEAN NOT NULL, PRIMARY KEY (key, timestamp, step, run_uuid, value, is_nan));
CREATE TABLE latest_metrics (key VARCHAR(250) NOT NULL, value FLOAT NOT NULL,
  timestamp BIGINT, step BIGINT NOT NULL, is_nan BOOLEAN NOT NULL,
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs (run_uuid), PRIMARY KEY (key, run_uuid));
CREATE TABLE params (key VARCHAR(250) NOT NULL, value VARCHAR(8000) NOT NULL,
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs (run_uuid), PRIMARY KEY (key, run_uuid));
CREATE TABLE tags (key VARCHAR(250) NOT NULL, value VARCHAR(8000),
  run_uuid VARCHAR(32) NOT NULL REFERENCES runs (run_uuid), PRIMARY KEY (key, run_uuid));
CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY);
"""
MLFLOW_ROWS = [
    f"INSERT INTO alembic_version VALUES ('{MLFLOW_REVISION}')",
    "INSERT INTO experiments VALUES (0, 'Default', './mlruns/0', 'active')",
    "INSERT INTO runs VALUES ('0123456789abcdef0123456789abcdef', 'r', 0, 'FINISHED', 1, 2, "
    "'active')",
    "INSERT INTO metrics VALUES ('acc', 0.9, 1, '0123456789abcdef0123456789abcdef', 0, FALSE)",
    "INSERT INTO params VALUES ('lr', '0.1', '0123456789abcdef0123456789abcdef')",
]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in ("MLOPS_TRACKING_URI", "MLOPS_ARTIFACT_ROOT", "MLOPS_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MLOPS_HOME", str(tmp_path / "mlops-home"))
    monkeypatch.chdir(tmp_path)
    yield
    from jupyter_mlops.store import forget_open_stores

    forget_open_stores()


def snapshot(folder: Path) -> dict[str, tuple[str, int]]:
    """Every file under ``folder``: its sha256 and its mtime in ns."""
    return {str(p.relative_to(folder)): (hashlib.sha256(p.read_bytes()).hexdigest(),
                                         p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def source_in(tmp_path: Path, kind: str) -> tuple[Path, Path, dict[str, tuple[str, int]]]:
    """A new ``src`` folder holding a source of ``kind``: the folder, the source's path and
    the folder's :func:`snapshot` before anything reads it."""
    folder = tmp_path / "src"
    folder.mkdir()
    path = make_source(kind, folder)
    return folder, path, snapshot(folder)


def run_migrate(source_url: str, target: Path) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main(["migrate", "--from", source_url, "--to", f"sqlite:///{target}", "-q"])
    return rc, err.getvalue()


def _sqlite(path: Path, script: str, rows=()) -> None:
    con = sqlite3.connect(path)
    try:
        con.executescript(script)
        for row in rows:
            con.execute(row)
        con.commit()
    finally:
        con.close()


def _our_store(path: Path, revision: str | None) -> None:
    """A jupyter-mlops store at ``revision`` (None: this version's head), engines closed."""
    from jupyter_mlops.store import forget_open_stores
    from jupyter_mlops.store.migrate import upgrade

    upgrade(f"sqlite:///{path}", revision or "head")
    forget_open_stores()


def _newer_store(path: Path) -> None:
    _our_store(path, None)
    _sqlite(path, "UPDATE alembic_version SET version_num = '9999';")


def make_source(kind: str, folder: Path) -> Path:
    """Create a source of ``kind`` in ``folder``; return the path the URL names."""
    path = folder / "source.db"
    if kind == "missing":
        pass
    elif kind == "not a file":
        path.mkdir()
    elif kind == "empty file":
        path.touch()
    elif kind == "not a SQLite database":
        path.write_bytes(b"PK\x03\x04 a zip file, or anything else " * 40)
    elif kind == "damaged SQLite file":
        path.write_bytes(SQLITE_MAGIC + b"\xff" * 4000)
    elif kind == "empty database":
        _sqlite(path, "CREATE TABLE t (x); DROP TABLE t;")
    elif kind == "MLflow tracking database":
        _sqlite(path, MLFLOW_SCHEMA, MLFLOW_ROWS)
    elif kind == "unknown database":
        _sqlite(path, "CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT);"
                      "CREATE TABLE alembic_version (version_num VARCHAR(32));",
                ["INSERT INTO customers VALUES (1, 'ann')",
                 "INSERT INTO alembic_version VALUES ('ae1027a6acf')"])
    elif kind == "jupyter-mlops store (older schema)":
        _our_store(path, "0004")
    elif kind == "jupyter-mlops store (newer schema)":
        _newer_store(path)
    else:  # pragma: no cover - a typo in the parametrisation
        raise AssertionError(kind)
    return path


KINDS = ["missing", "not a file", "empty file", "not a SQLite database", "damaged SQLite file",
         "empty database", "MLflow tracking database", "unknown database",
         "jupyter-mlops store (older schema)", "jupyter-mlops store (newer schema)"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_source_that_is_not_a_current_store_is_named_and_left_untouched(kind, tmp_path):
    folder, path, before = source_in(tmp_path, kind)
    target = tmp_path / "target.db"

    rc, err = run_migrate(f"sqlite:///{path}", target)

    record("foreign-migrate-source", inputs=1, lost=int(snapshot(folder) != before), checked=1)
    assert rc == 2, err
    assert err.startswith("error: ") and err.count("\n") == 1, err  # one line
    assert f"({kind})" in err or f"is an {kind}" in err or f"is a {kind}" in err, err
    assert snapshot(folder) == before  # bytes and mtimes; no -wal, -shm or -journal file
    assert not path.exists() if kind == "missing" else True
    assert not target.exists()  # refused before the target was looked at


def test_an_mlflow_source_gets_the_mlflow_answer(tmp_path):
    _folder, path, _before = source_in(tmp_path, "MLflow tracking database")
    rc, err = run_migrate(f"sqlite:///{path}", tmp_path / "target.db")
    assert rc == 2
    assert "MLflow tracking database" in err and MLFLOW_REVISION in err
    assert f"jupyter mlops import mlflow 'sqlite:///{path}'" in err  # the one next step
    assert "upgrade jupyter-mlops" not in err.lower() and "pip install" not in err
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # not WAL
    finally:
        con.close()


def test_older_and_newer_stores_say_which_command_fixes_them(tmp_path):
    for kind, fix in [("jupyter-mlops store (older schema)", "db upgrade"),
                      ("jupyter-mlops store (newer schema)", "pip install -U jupyter-mlops")]:
        folder = tmp_path / kind.split("(")[1][:5]
        folder.mkdir()
        rc, err = run_migrate(f"sqlite:///{make_source(kind, folder)}", tmp_path / "t.db")
        assert rc == 2 and fix in err, err


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(min_size=1, max_size=3000), sqlite_header=st.booleans())
# Found by this test: a header whose read version (byte 19) says WAL and whose write version
# does not; SQLite goes by the read version and created -wal/-shm files beside the source.
@example(data=b"\x00\x00\x00\x02", sqlite_header=True)
def test_random_bytes_are_refused_and_never_touched(data, sqlite_header):
    if sqlite_header:
        data = SQLITE_MAGIC + data
    elif data.startswith(SQLITE_MAGIC):
        data = b"x" + data
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "src"
        folder.mkdir()
        (folder / "source.db").write_bytes(data)
        os.utime(folder / "source.db", ns=(1_600_000_000_000_000_000,) * 2)
        before = snapshot(folder)
        rc, err = run_migrate(f"sqlite:///{folder / 'source.db'}", Path(tmp) / "t.db")
        record("foreign-migrate-source", inputs=1, lost=int(snapshot(folder) != before),
               checked=1)
        assert rc == 2 and err.startswith("error: The source "), err
        assert "Traceback" not in err
        assert snapshot(folder) == before
        assert not (Path(tmp) / "t.db").exists()


def test_a_current_store_is_copied_and_its_file_is_not_written(tmp_path):
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    folder = tmp_path / "src"
    url = f"sqlite:///{folder / 'mlops.db'}"
    c = Client(url, str(folder / "artifacts"))
    run = c.create_run(experiment="e")
    c.log_metric(run.id, "acc", 0.5)
    c.log_artifact(run.id, b"payload", name="a.bin")
    c.end_run(run.id)
    c.close()
    forget_open_stores()
    before = snapshot(folder)
    rc = main(["migrate", "--from", url, "--to", f"sqlite:///{tmp_path / 't.db'}",
               "--from-artifacts", str(folder / "artifacts"),
               "--to-artifacts", str(tmp_path / "t-art"), "-q"])
    assert rc == 0
    after = snapshot(folder)
    # Reading a WAL-mode store (as any reader does) may add its empty -wal/-shm side files;
    # every file that was there is byte for byte and mtime for mtime the same.
    assert {k: after[k] for k in before} == before
    assert set(after) - set(before) <= {"mlops.db-wal", "mlops.db-shm"}
    assert after.get("mlops.db-wal", (hashlib.sha256(b"").hexdigest(), 0))[0] == \
        hashlib.sha256(b"").hexdigest()  # nothing was logged into the WAL either


def _dump(url: str) -> dict[str, list]:
    """Every row of every table, through a plain (not our) engine."""
    from sqlalchemy import MetaData, create_engine, select
    from sqlalchemy.pool import NullPool

    engine = create_engine(url, poolclass=NullPool)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.connect() as conn:
            return {t.name: sorted(map(tuple, conn.execute(select(t)).all()), key=repr)
                    for t in meta.sorted_tables}
    finally:
        engine.dispose()


def test_an_mlflow_database_on_either_backend_is_named_and_unchanged(store_url, tmp_path):
    from sqlalchemy import create_engine, text
    from sqlalchemy.pool import NullPool

    engine = create_engine(store_url, poolclass=NullPool)
    with engine.begin() as conn:
        for statement in [*MLFLOW_SCHEMA.split(";"), *MLFLOW_ROWS]:
            if statement.strip():
                conn.execute(text(statement))
    engine.dispose()
    before = _dump(store_url)
    assert before["alembic_version"] == [(MLFLOW_REVISION,)] and len(before["metrics"]) == 1

    rc, err = run_migrate(store_url, tmp_path / "target.db")

    assert rc == 2 and "is an MLflow tracking database" in err, err
    assert _dump(store_url) == before
    assert not (tmp_path / "target.db").exists()


def test_read_only_url_refuses_writes_on_either_backend(store_url):
    from sqlalchemy import text
    from sqlalchemy.exc import DBAPIError

    from jupyter_mlops.errors import MlopsError
    from jupyter_mlops.store.engine import (
        is_read_only,
        read_connection,
        read_only_url,
        write_connection,
    )
    from jupyter_mlops.store.migrate import upgrade

    upgrade(store_url)
    ro = read_only_url(store_url)
    assert is_read_only(ro) and not is_read_only(store_url)
    with read_connection(ro) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM experiments")).scalar() == 0
    for statement in ["INSERT INTO alembic_version VALUES ('x')", "CREATE TABLE intruder (a INT)"]:
        with pytest.raises((DBAPIError, MlopsError), match="read-only|readonly"):
            with write_connection(ro) as conn:
                conn.execute(text(statement))
    with read_connection(store_url) as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM alembic_version")).scalar() == 1


def test_paths_with_uri_characters_are_read_where_they_are(tmp_path):
    """``#``, ``%`` and spaces in a path must not become URI syntax in the ``file:`` form."""
    folder = tmp_path / "a b#c%d"
    folder.mkdir()
    path = make_source("MLflow tracking database", folder)
    (tmp_path / "a b").mkdir()  # where a '#' taken as a fragment would point
    before = snapshot(tmp_path)
    # In a SQLAlchemy URL a literal '%' is written %25 (make_url unquotes the path).
    rc, err = run_migrate(f"sqlite:///{str(path).replace('%', '%25')}", tmp_path / "target.db")
    assert rc == 2 and "is an MLflow tracking database" in err, err
    assert snapshot(tmp_path) == before


@pytest.mark.parametrize("kind", ["MLflow tracking database", "unknown database",
                                  "not a SQLite database", "damaged SQLite file"])
def test_opening_a_foreign_database_as_the_store_names_it_and_leaves_it(kind, tmp_path):
    """Not only migrate: a Client (any open) pointed at a stranger's file refuses it intact.

    (A newer store of ours is refused by tests/store/test_migrations.py; being in WAL mode,
    it is read like any store, which may add its empty side files.)
    """
    from jupyter_mlops.client import Client
    from jupyter_mlops.errors import MlopsError

    folder, path, before = source_in(tmp_path, kind)
    with pytest.raises(MlopsError, match=re.escape(kind)):
        Client(f"sqlite:///{path}", str(tmp_path / "art"))
    assert snapshot(folder) == before


def test_a_store_on_either_backend_is_copied_through_read_only_reads(store_url, tmp_path):
    """The copy itself reads the source read-only (PostgreSQL: read-only transactions)."""
    from jupyter_mlops.client import Client
    from jupyter_mlops.store import forget_open_stores

    c = Client(store_url, str(tmp_path / "src-art"))
    for i in range(3):
        run = c.create_run(experiment="e")
        c.log_metrics(run.id, {"acc": i / 3, "loss": 1 - i / 3})
        c.log_artifact(run.id, {"i": i}, name="cfg.json")
        c.end_run(run.id)
    c.close()
    forget_open_stores()
    before = _dump(store_url)
    target = f"sqlite:///{tmp_path / 't.db'}"
    rc = main(["migrate", "--from", store_url, "--to", target, "--from-artifacts",
               str(tmp_path / "src-art"), "--to-artifacts", str(tmp_path / "t-art"), "-q"])
    assert rc == 0
    assert _dump(store_url) == before
    assert len(_dump(target)["runs"]) == 3
