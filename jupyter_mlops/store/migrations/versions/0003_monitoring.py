"""monitoring

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 00:29:00.318761
"""
from alembic import op
import sqlalchemy as sa


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('monitors',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('name', sa.String(length=256), nullable=False),
    sa.Column('model_name', sa.String(length=256), nullable=False),
    sa.Column('model_ref', sa.String(length=400), nullable=False),
    sa.Column('reference_digest', sa.String(length=64), nullable=False),
    sa.Column('reference_dataset_id', sa.Integer(), nullable=True),
    sa.Column('profile_digest', sa.String(length=64), nullable=False),
    sa.Column('config', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.Column('updated_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['reference_dataset_id'], ['dataset_versions.id'], name=op.f('fk_monitors_reference_dataset_id_dataset_versions'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitors')),
    sa.UniqueConstraint('name', name=op.f('uq_monitors_name'))
    )
    with op.batch_alter_table('monitors', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_monitors_model_name'), ['model_name'], unique=False)

    op.create_table('alert_rules',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('feature', sa.String(length=256), nullable=True),
    sa.Column('op', sa.String(length=2), nullable=False),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('pipeline', sa.Text(), nullable=True),
    sa.Column('parameters', sa.JSON(), nullable=True),
    sa.Column('cooldown_s', sa.Float(), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('last_triggered_at', sa.Float(), nullable=True),
    sa.Column('created_by', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_alert_rules_monitor_id_monitors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alert_rules'))
    )
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_alert_rules_monitor_id'), ['monitor_id'], unique=False)

    op.create_table('monitor_records',
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('row_id', sa.String(length=256), nullable=False),
    sa.Column('window_seq', sa.Integer(), nullable=True),
    sa.Column('ts', sa.Float(), nullable=True),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('prediction_value', sa.Float(), nullable=True),
    sa.Column('prediction_label', sa.String(length=256), nullable=True),
    sa.Column('actual_value', sa.Float(), nullable=True),
    sa.Column('actual_label', sa.String(length=256), nullable=True),
    sa.Column('feedback_at', sa.Float(), nullable=True),
    sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_monitor_records_monitor_id_monitors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('monitor_id', 'row_id', name=op.f('pk_monitor_records'))
    )
    with op.batch_alter_table('monitor_records', schema=None) as batch_op:
        batch_op.create_index('ix_monitor_records_monitor_feedback', ['monitor_id', 'feedback_at'], unique=False)
        batch_op.create_index('ix_monitor_records_monitor_window', ['monitor_id', 'window_seq'], unique=False)

    op.create_table('monitor_windows',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('start_at', sa.Float(), nullable=False),
    sa.Column('end_at', sa.Float(), nullable=False),
    sa.Column('rows', sa.Integer(), nullable=False),
    sa.Column('model_version', sa.Integer(), nullable=True),
    sa.Column('columns_checked', sa.Integer(), nullable=False),
    sa.Column('columns_drifted', sa.Integer(), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=True),
    sa.Column('data_digest', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_monitor_windows_monitor_id_monitors'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitor_windows')),
    sa.UniqueConstraint('monitor_id', 'seq', name='uq_monitor_windows_monitor_seq')
    )
    with op.batch_alter_table('monitor_windows', schema=None) as batch_op:
        batch_op.create_index('ix_monitor_windows_monitor_end', ['monitor_id', 'end_at'], unique=False)

    op.create_table('alerts',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('rule_id', sa.Integer(), nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('feature', sa.String(length=256), nullable=True),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('threshold', sa.Float(), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('pipeline_run_id', sa.String(length=32), nullable=True),
    sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_alerts_monitor_id_monitors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['rule_id'], ['alert_rules.id'], name=op.f('fk_alerts_rule_id_alert_rules'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['monitor_windows.id'], name=op.f('fk_alerts_window_id_monitor_windows'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_alerts'))
    )
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.create_index('ix_alerts_monitor_at', ['monitor_id', 'at'], unique=False)
        batch_op.create_index(batch_op.f('ix_alerts_rule_id'), ['rule_id'], unique=False)

    op.create_table('monitor_results',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('monitor_id', sa.Integer(), nullable=False),
    sa.Column('window_id', sa.Integer(), nullable=False),
    sa.Column('feature', sa.String(length=256), nullable=False),
    sa.Column('measure', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Float(), nullable=True),
    sa.Column('drifted', sa.Boolean(), nullable=True),
    sa.Column('at', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['monitor_id'], ['monitors.id'], name=op.f('fk_monitor_results_monitor_id_monitors'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['window_id'], ['monitor_windows.id'], name=op.f('fk_monitor_results_window_id_monitor_windows'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_monitor_results')),
    sa.UniqueConstraint('window_id', 'feature', 'measure', name='uq_monitor_results_point')
    )
    with op.batch_alter_table('monitor_results', schema=None) as batch_op:
        batch_op.create_index('ix_monitor_results_series', ['monitor_id', 'measure', 'feature', 'at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('monitor_results', schema=None) as batch_op:
        batch_op.drop_index('ix_monitor_results_series')

    op.drop_table('monitor_results')
    with op.batch_alter_table('alerts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alerts_rule_id'))
        batch_op.drop_index('ix_alerts_monitor_at')

    op.drop_table('alerts')
    with op.batch_alter_table('monitor_windows', schema=None) as batch_op:
        batch_op.drop_index('ix_monitor_windows_monitor_end')

    op.drop_table('monitor_windows')
    with op.batch_alter_table('monitor_records', schema=None) as batch_op:
        batch_op.drop_index('ix_monitor_records_monitor_window')
        batch_op.drop_index('ix_monitor_records_monitor_feedback')

    op.drop_table('monitor_records')
    with op.batch_alter_table('alert_rules', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_alert_rules_monitor_id'))

    op.drop_table('alert_rules')
    with op.batch_alter_table('monitors', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_monitors_model_name'))

    op.drop_table('monitors')
