"""Metric points stored in packed chunks instead of one row per point.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

Existing points are converted, one chunk per (run, key), in logging order; then the per-point
``metrics`` table is dropped. Downgrade unpacks them again.
"""
from alembic import op
import sqlalchemy as sa

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

BATCH_RUNS = 500


def upgrade() -> None:
    from jupyter_mlops.store.metric_chunks import pack

    chunks = op.create_table(
        'metric_chunks',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('n', sa.Integer(), nullable=False),
        sa.Column('first_step', sa.BigInteger(), nullable=False),
        sa.Column('last_step', sa.BigInteger(), nullable=False),
        sa.Column('data', sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'],
                                name=op.f('fk_metric_chunks_run_id_runs'), ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metric_chunks')),
    )
    with op.batch_alter_table('metric_chunks', schema=None) as batch_op:
        batch_op.create_index('ix_metric_chunks_run_key', ['run_id', 'key', 'id'], unique=False)

    bind = op.get_bind()
    metrics = sa.table('metrics', sa.column('id'), sa.column('run_id'), sa.column('key'),
                       sa.column('value'), sa.column('step'), sa.column('timestamp'))
    run_ids = [r[0] for r in bind.execute(sa.select(metrics.c.run_id).distinct())]
    for i in range(0, len(run_ids), BATCH_RUNS):
        rows = bind.execute(
            sa.select(metrics.c.run_id, metrics.c.key, metrics.c.value, metrics.c.step,
                      metrics.c.timestamp)
            .where(metrics.c.run_id.in_(run_ids[i:i + BATCH_RUNS]))
            .order_by(metrics.c.run_id, metrics.c.key, metrics.c.id)).all()
        series: dict[tuple[str, str], list] = {}
        for run_id, key, value, step, ts in rows:
            series.setdefault((run_id, key), []).append(
                (float('nan') if value is None else value, step, ts))
        values = []
        for (run_id, key), points in series.items():
            data, first, last = pack(points)
            values.append({'run_id': run_id, 'key': key, 'n': len(points), 'first_step': first,
                           'last_step': last, 'data': data})
        if values:
            bind.execute(chunks.insert(), values)

    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_metrics_run_key_step')
    op.drop_table('metrics')


def downgrade() -> None:
    from jupyter_mlops.store.metric_chunks import unpack

    metrics = op.create_table(
        'metrics',
        sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True,
                  nullable=False),
        sa.Column('run_id', sa.String(length=32), nullable=False),
        sa.Column('key', sa.String(length=250), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('step', sa.BigInteger(), nullable=False),
        sa.Column('timestamp', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], name=op.f('fk_metrics_run_id_runs'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_metrics')),
    )
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.create_index('ix_metrics_run_key_step', ['run_id', 'key', 'step'], unique=False)
    bind = op.get_bind()
    chunks = sa.table('metric_chunks', sa.column('id'), sa.column('run_id'), sa.column('key'),
                      sa.column('n'), sa.column('data'))
    pairs = bind.execute(sa.select(chunks.c.run_id, chunks.c.key).distinct()).all()
    for run_id, key in pairs:
        blobs = bind.execute(sa.select(chunks.c.n, chunks.c.data).where(
            chunks.c.run_id == run_id, chunks.c.key == key).order_by(chunks.c.id)).all()
        steps, values, stamps = unpack(blobs)
        bind.execute(metrics.insert(), [
            {'run_id': run_id, 'key': key, 'value': None if v != v else v, 'step': s,
             'timestamp': t} for s, v, t in zip(steps.tolist(), values.tolist(), stamps.tolist())])
    with op.batch_alter_table('metric_chunks', schema=None) as batch_op:
        batch_op.drop_index('ix_metric_chunks_run_key')
    op.drop_table('metric_chunks')
