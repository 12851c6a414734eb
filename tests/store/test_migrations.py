"""Alembic migrations: applied on first open, in step with the ORM, refused when too new."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from jupyter_mlops.errors import StoreUnavailableError
from jupyter_mlops.store import forget_open_stores, open_store
from jupyter_mlops.store import migrate
from jupyter_mlops.store.orm import Base

VERSIONS = migrate.MIGRATIONS_DIR / "versions"


def scripts() -> ScriptDirectory:
    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    return ScriptDirectory.from_config(cfg)


def test_head_revision_is_the_newest_migration_file():
    directory = scripts()
    assert directory.get_heads() == [migrate.HEAD_REVISION], (
        "HEAD_REVISION in store/migrate.py must name the one head of migrations/versions")
    files = sorted(p.name for p in VERSIONS.glob("*.py"))
    revisions = list(directory.walk_revisions())
    assert len(revisions) == len(files), "every file in versions/ is one migration"
    for rev in revisions:
        # migrate._is_known() recognises revisions by file name.
        assert Path(rev.path).name.startswith(f"{rev.revision}_"), rev.path
    newest_file = max(files, key=lambda n: int(re.match(r"\d+", n).group()))
    assert newest_file.startswith(f"{migrate.HEAD_REVISION}_")


def test_first_open_creates_every_table_at_head(store_url, artifact_root, raw_db):
    assert inspect(raw_db.engine).get_table_names() == []

    open_store(store_url, artifact_root)

    assert raw_db.rows("SELECT version_num FROM alembic_version") == [(migrate.HEAD_REVISION,)]
    tables = set(inspect(raw_db.engine).get_table_names())
    assert set(Base.metadata.tables) | {"alembic_version"} == tables


def _built_on(dialect: str):
    """Alembic's autogenerate ignores ``Index.ddl_if``: leave out what this dialect never
    builds (orm.py's PostgreSQL-only indexes) instead of reporting it missing."""
    def include(obj, name, type_, reflected, compare_to):
        condition = getattr(obj, "_ddl_if", None)
        return condition is None or condition.dialect in (None, dialect)
    return include


def test_migrated_schema_matches_the_orm(store, raw_db):
    with raw_db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={
            "compare_type": True, "include_object": _built_on(conn.dialect.name)})
        diffs = compare_metadata(context, Base.metadata)
    assert diffs == [], "orm.py and the migrations disagree: write a migration"


def test_upgrade_is_idempotent(store, store_url):
    assert migrate.upgrade(store_url) == (migrate.HEAD_REVISION, migrate.HEAD_REVISION)


def test_downgrade_to_base_then_upgrade_restores_the_schema(store, store_url, raw_db):
    from alembic import command

    from jupyter_mlops.store.engine import write_connection

    with write_connection(store_url) as conn:
        command.downgrade(migrate._alembic_config(conn), "base")
    assert set(inspect(raw_db.engine).get_table_names()) <= {"alembic_version"}

    assert migrate.upgrade(store_url) == (None, migrate.HEAD_REVISION)
    assert set(Base.metadata.tables) <= set(inspect(raw_db.engine).get_table_names())


def test_each_downgrade_keeps_the_runs(client, store_url, raw_db):
    """Stepping down one revision at a time loses no run: SQLite's batch mode rebuilds a
    table, and rebuilding ``experiments`` used to delete every run by ON DELETE CASCADE."""
    from alembic import command

    from jupyter_mlops.store.engine import write_connection

    run = client.create_run(experiment="kept", name="survivor")
    client.end_run(run.id)
    revisions = [r.revision for r in scripts().walk_revisions()]  # newest first
    for target in revisions[1:revisions.index("0005") + 1]:
        with write_connection(store_url) as conn:
            command.downgrade(migrate._alembic_config(conn), target)
        assert raw_db.rows("SELECT id FROM runs") == [(run.id,)], f"runs lost at {target}"
    assert migrate.upgrade(store_url)[1] == migrate.HEAD_REVISION


def test_a_store_from_a_newer_version_is_refused(store_url, artifact_root, raw_db):
    raw_db.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)")
    raw_db.execute("INSERT INTO alembic_version VALUES ('9999')")

    for _ in range(2):  # and stays refused: nothing half-opened is cached
        with pytest.raises(StoreUnavailableError) as err:
            open_store(store_url, artifact_root)
        message = str(err.value)
        assert "9999" in message and migrate.HEAD_REVISION in message
        assert "pip install -U jupyter-mlops" in message
    # Nothing was migrated over it.
    assert inspect(raw_db.engine).get_table_names() == ["alembic_version"]


@pytest.mark.slow  # several processes race to migrate, 17.4 s measured (load 8)
def test_concurrent_first_opens_migrate_once(store_url, artifact_root, spawn_helper, tmp_path,
                                             raw_db):
    go = tmp_path / "go"
    procs = [spawn_helper("open_store.py", store_url, artifact_root, go) for _ in range(4)]
    go.touch()
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err
        assert out.strip() == migrate.HEAD_REVISION
    assert raw_db.rows("SELECT version_num FROM alembic_version") == [(migrate.HEAD_REVISION,)]
    assert raw_db.scalar("SELECT count(*) FROM experiments") == 1
    assert raw_db.scalar("SELECT count(*) FROM runs") == 4
    forget_open_stores()
