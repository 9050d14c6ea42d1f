"""repeating schedules, and each occurrence's link to its series

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "series",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.BigInteger(), nullable=False),
        sa.Column("zone", sa.String(length=64), nullable=False),
        sa.Column("rule", sa.JSON(), nullable=False),
        sa.Column("template", sa.JSON(), nullable=False),
        sa.Column("made", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("skipped_to", sa.DateTime(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "active",
                "paused",
                "stopped",
                "finished",
                name="seriesstatus",
                native_enum=False,
                length=16,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_series")),
    )
    with op.batch_alter_table("series", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_series_status"), ["status"], unique=False)
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.add_column(sa.Column("series_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("series_slot", sa.DateTime(), nullable=True))
        batch_op.create_index(
            "ix_message_history_series_id_series_slot", ["series_id", "series_slot"], unique=True
        )


def downgrade() -> None:
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.drop_index("ix_message_history_series_id_series_slot")
        batch_op.drop_column("series_slot")
        batch_op.drop_column("series_id")
    op.drop_table("series")
