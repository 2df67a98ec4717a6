"""cron triggers, signals and the event stream

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cron_triggers",
        sa.Column("workflow_id", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("cron", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("jitter_s", sa.Float(), server_default="0", nullable=False),
        sa.Column("catchup", sa.String(length=8), nullable=False),
        sa.Column("next_fire_at", sa.Float(), nullable=False),
        sa.Column("due_at", sa.Float(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id"),
    )
    with op.batch_alter_table("cron_triggers", schema=None) as batch_op:
        batch_op.create_index("ix_cron_triggers_due", ["due_at"], unique=False)
    op.create_table(
        "fires",
        sa.Column("workflow_id", sa.String(length=128), nullable=False),
        sa.Column("fire_time", sa.Float(), nullable=False),
        sa.Column("instance_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("workflow_id", "fire_time"),
    )
    op.create_table(
        "signal_names",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "signals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("request_id", sa.String(length=200), nullable=True),
        sa.Column("source", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "request_id", name="uq_signals_name_request"),
        sa.UniqueConstraint("name", "seq", name="uq_signals_name_seq"),
    )
    op.create_table(
        "signal_slots",
        sa.Column("workflow_id", sa.String(length=128), nullable=False),
        sa.Column("group_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("signal_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("workflow_id", "group_index", "signal_index"),
    )
    with op.batch_alter_table("signal_slots", schema=None) as batch_op:
        batch_op.create_index("ix_signal_slots_name", ["name"], unique=False)
    op.create_table(
        "signal_waits",
        sa.Column("instance_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("wait_index", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("match", sa.JSON(), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("instance_pk", "step_id", "wait_index"),
    )
    with op.batch_alter_table("signal_waits", schema=None) as batch_op:
        batch_op.create_index("ix_signal_waits_name", ["name"], unique=False)
    op.create_table(
        "outbox_cursors",
        sa.Column("sink", sa.String(length=100), nullable=False),
        sa.Column("last_id", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("sink"),
    )


def downgrade() -> None:
    op.drop_table("outbox_cursors")
    op.drop_table("signal_waits")
    op.drop_table("signal_slots")
    op.drop_table("signals")
    op.drop_table("signal_names")
    op.drop_table("fires")
    op.drop_table("cron_triggers")
