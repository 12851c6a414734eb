"""Feature store: ``feature_views``, ``feature_stats``, ``feature_online``,
``feature_materializations``.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-07

Versioned feature views (definition + content hash, offline rows as a Parquet blob), their
per-feature statistics, the online table of latest values per entity, and the materialization
watermark that makes ``materialize`` incremental and resumable (issue 16).
"""
from alembic import op
import sqlalchemy as sa

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feature_views',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('digest', sa.String(length=64), nullable=False),
        sa.Column('data_digest', sa.String(length=64), nullable=False),
        sa.Column('blob_digest', sa.String(length=64), nullable=False),
        sa.Column('schema', sa.JSON(), nullable=False),
        sa.Column('entity', sa.JSON(), nullable=False),
        sa.Column('timestamp_column', sa.String(length=256), nullable=False),
        sa.Column('features', sa.JSON(), nullable=False),
        sa.Column('ttl_seconds', sa.Float(), nullable=True),
        sa.Column('description', sa.Text(), nullable=True),
        sa.Column('source', sa.Text(), nullable=True),
        sa.Column('rows', sa.BigInteger(), nullable=False),
        sa.Column('entities', sa.BigInteger(), nullable=False),
        sa.Column('min_event_ns', sa.BigInteger(), nullable=True),
        sa.Column('max_event_ns', sa.BigInteger(), nullable=True),
        sa.Column('dataset_id', sa.Integer(), nullable=True),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['dataset_id'], ['dataset_versions.id'],
                                name=op.f('fk_feature_views_dataset_id_dataset_versions'),
                                ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_feature_views')),
        sa.UniqueConstraint('name', 'digest', name='uq_feature_views_name_digest'),
        sa.UniqueConstraint('name', 'version', name='uq_feature_views_name_version'),
    )
    with op.batch_alter_table('feature_views', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_feature_views_name'), ['name'], unique=False)

    op.create_table(
        'feature_stats',
        sa.Column('view_id', sa.Integer(), nullable=False),
        sa.Column('feature', sa.String(length=256), nullable=False),
        sa.Column('dtype', sa.String(length=64), nullable=False),
        sa.Column('stats', sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(['view_id'], ['feature_views.id'],
                                name=op.f('fk_feature_stats_view_id_feature_views'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('view_id', 'feature', name=op.f('pk_feature_stats')),
    )
    op.create_table(
        'feature_online',
        sa.Column('view_id', sa.Integer(), nullable=False),
        sa.Column('entity_key', sa.String(length=1024), nullable=False),
        sa.Column('event_ns', sa.BigInteger(), nullable=False),
        sa.Column('values_json', sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(['view_id'], ['feature_views.id'],
                                name=op.f('fk_feature_online_view_id_feature_views'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('view_id', 'entity_key', name=op.f('pk_feature_online')),
        sqlite_with_rowid=False,  # a lookup by key is one B-tree probe
    )
    op.create_table(
        'feature_materializations',
        sa.Column('view_id', sa.Integer(), nullable=False),
        sa.Column('watermark_ns', sa.BigInteger(), nullable=True),
        sa.Column('rows_written', sa.BigInteger(), nullable=False),
        sa.Column('started_at', sa.Float(), nullable=False),
        sa.Column('updated_at', sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(['view_id'], ['feature_views.id'],
                                name=op.f('fk_feature_materializations_view_id_feature_views'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('view_id', name=op.f('pk_feature_materializations')),
    )


def downgrade() -> None:
    op.drop_table('feature_materializations')
    op.drop_table('feature_online')
    op.drop_table('feature_stats')
    with op.batch_alter_table('feature_views', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_feature_views_name'))
    op.drop_table('feature_views')
