"""an admin's own language and their Telegram app's, and when their open draft began

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("admin_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("app_language", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("draft_started_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("admin_settings", schema=None) as batch_op:
        batch_op.drop_column("draft_started_at")
        batch_op.drop_column("app_language")
        batch_op.drop_column("language")
