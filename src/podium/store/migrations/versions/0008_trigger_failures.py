"""the last failed starts of each trigger

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_failures",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("workflow_id", sa.String(length=128), nullable=False),
        sa.Column("trigger", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("trigger_failures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_trigger_failures_workflow", ["workflow_id", "trigger", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trigger_failures", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_failures_workflow")
    op.drop_table("trigger_failures")
