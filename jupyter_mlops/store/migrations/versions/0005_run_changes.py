"""Change log for the in-memory search index: ``run_changes`` + SQLite triggers.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27

The table exists on every backend (the ORM and the schema stay identical); the triggers that
fill it are created on SQLite only, the backend the in-memory index serves. Existing runs are
logged once so an index built right after the upgrade starts from a complete picture.
"""
from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

#: Tables whose rows change what a search returns, and the column naming their run.
TRACKED = (('runs', 'id'), ('params', 'run_id'), ('tags', 'run_id'),
           ('latest_metrics', 'run_id'))
EVENTS = {'INSERT': 'NEW', 'UPDATE': 'NEW', 'DELETE': 'OLD'}


def _triggers():
    for table, column in TRACKED:
        for event, row in EVENTS.items():
            yield f'trg_run_changes_{table}_{event.lower()}', table, f'{row}.{column}', event


def upgrade() -> None:
    op.create_table(
        'run_changes',
        sa.Column('seq', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'),
                  autoincrement=True, nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint('seq', name=op.f('pk_run_changes')),
    )
    if op.get_bind().dialect.name != 'sqlite':
        return
    op.execute("INSERT INTO run_changes (run_id) SELECT id FROM runs ORDER BY start_time, id")
    for name, table, run_id, event in _triggers():
        # Fixed identifiers from TRACKED above; no user input reaches this DDL.
        op.execute(f"CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN "
                   f"INSERT INTO run_changes (run_id) VALUES ({run_id}); END")


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite':
        for name, *_ in _triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.drop_table('run_changes')
