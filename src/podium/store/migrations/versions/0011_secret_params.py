"""secret params: the sealed values of an instance's secret params, and of a foreach's

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("instances") as batch:
        batch.add_column(sa.Column("sealed_params", sa.Text(), nullable=True))
    with op.batch_alter_table("steps") as batch:
        batch.add_column(sa.Column("sealed_params", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("steps") as batch:
        batch.drop_column("sealed_params")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("sealed_params")
