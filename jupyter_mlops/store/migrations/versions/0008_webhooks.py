"""Notifications: ``webhooks`` and their ``webhook_deliveries`` log.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-07

Webhooks configured per store (URL, signing secret, events wanted, JSON or Slack format) and
one row per delivery attempt (time, HTTP status, error), read back through the Client
(issue 19).
"""
from alembic import op
import sqlalchemy as sa

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'webhooks',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('url', sa.Text(), nullable=False),
        sa.Column('secret', sa.Text(), nullable=True),
        sa.Column('events', sa.JSON(), nullable=False),
        sa.Column('format', sa.String(length=16), nullable=False),
        sa.Column('created_by', sa.String(length=128), nullable=False),
        sa.Column('created_at', sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhooks')),
    )
    op.create_table(
        'webhook_deliveries',
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('webhook_id', sa.Integer(), nullable=False),
        sa.Column('delivery', sa.String(length=64), nullable=False),
        sa.Column('event', sa.String(length=64), nullable=False),
        sa.Column('attempt', sa.Integer(), nullable=False),
        sa.Column('at', sa.Float(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('delivered', sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(['webhook_id'], ['webhooks.id'],
                                name=op.f('fk_webhook_deliveries_webhook_id_webhooks'),
                                ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries')),
    )
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.create_index('ix_webhook_deliveries_webhook_at', ['webhook_id', 'at'],
                              unique=False)
        batch_op.create_index(batch_op.f('ix_webhook_deliveries_delivery'), ['delivery'],
                              unique=False)


def downgrade() -> None:
    with op.batch_alter_table('webhook_deliveries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_webhook_deliveries_delivery'))
        batch_op.drop_index('ix_webhook_deliveries_webhook_at')
    op.drop_table('webhook_deliveries')
    op.drop_table('webhooks')
