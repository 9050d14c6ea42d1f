"""scheduling

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "admin_settings",
        sa.Column("admin_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("admin_id", name=op.f("pk_admin_settings")),
    )
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_history_status_scheduled_at", ["status", "scheduled_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.drop_index("ix_message_history_status_scheduled_at")

    op.drop_table("admin_settings")
