"""tag limits

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tag_limits",
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("max_permits", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tag"),
    )
    op.create_table(
        "permits",
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("instance_pk", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("tag", "instance_pk", "step_id"),
    )
    with op.batch_alter_table("permits", schema=None) as batch_op:
        batch_op.create_index("ix_permits_holder", ["instance_pk", "step_id"], unique=False)
    op.create_table(
        "permit_waiters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tag", sa.String(length=64), nullable=False),
        sa.Column("instance_pk", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=200), nullable=False),
        sa.Column("since", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("permit_waiters", schema=None) as batch_op:
        batch_op.create_index("ix_permit_waiters_tag", ["tag", "id"], unique=False)
        batch_op.create_index("ix_permit_waiters_holder", ["instance_pk", "step_id"], unique=False)
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.add_column(sa.Column("tags", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("instances", schema=None) as batch_op:
        batch_op.drop_column("tags")
    op.drop_table("permit_waiters")
    op.drop_table("permits")
    op.drop_table("tag_limits")
