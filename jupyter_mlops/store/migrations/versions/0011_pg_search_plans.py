"""PostgreSQL search plans at 100,000 runs; HOT updates for heartbeats.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07

Measured with ``EXPLAIN (ANALYZE, BUFFERS)`` on 100,000 runs (issue 14, RESULTS.md):

- ``params``, ``tags`` and ``latest_metrics`` get multivariate (MCV) statistics on
  ``(key, value)``: the planner otherwise takes key and value as independent, estimates a
  ``metric > x and param = y`` filter at 0.8 % of runs instead of 20 % and picks a parallel
  sequential scan of ``runs`` (27,755 buffers; with them, a walk of ix_runs_start_time).
- ``runs.name`` gets a ``varchar_pattern_ops`` index: under a non-C collation the plain btree
  cannot serve ``name LIKE 'prefix%'`` (1,773 buffers, ~70 ms before; 0.2 ms after).
- ``ix_runs_status_heartbeat`` goes, and ``runs`` gets fillfactor 90: every heartbeat changed
  an indexed column, so no heartbeat update was HOT (19 of 694; 416 of 705 without it). The
  reaper's ``status = 'RUNNING'`` finds its few rows through ``ix_runs_status``.

All but the index drop are PostgreSQL-only (SQLite has neither statistics objects, operator
classes nor fillfactor).
"""
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

STATISTICS = (("st_params_key_value", "params"), ("st_tags_key_value", "tags"),
              ("st_latest_metrics_key_value", "latest_metrics"))


def _postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.drop_index('ix_runs_status_heartbeat', table_name='runs')
    if not _postgresql():
        return
    for name, table in STATISTICS:
        op.execute(f"CREATE STATISTICS IF NOT EXISTS {name} (mcv) ON key, value FROM {table}")
        op.execute(f"ANALYZE {table}")
    op.create_index('ix_runs_name_pattern', 'runs', ['name'],
                    postgresql_ops={'name': 'varchar_pattern_ops'})
    op.execute("ALTER TABLE runs SET (fillfactor = 90)")


def downgrade() -> None:
    if _postgresql():
        op.execute("ALTER TABLE runs RESET (fillfactor)")
        op.drop_index('ix_runs_name_pattern', table_name='runs')
        for name, _ in STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    op.create_index('ix_runs_status_heartbeat', 'runs', ['status', 'heartbeat_at'])
