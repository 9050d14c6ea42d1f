"""people search text

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _search_text(first_name: str, last_name: str | None, username: str | None) -> str:
    handle = f"@{username}" if username else ""
    return " ".join(p for p in (first_name, last_name or "", handle) if p).casefold()


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("search_text", sa.String(length=400), server_default="", nullable=False)
        )
    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, first_name, last_name, username FROM users")).all()
    if rows:
        bind.execute(
            sa.text("UPDATE users SET search_text = :text WHERE id = :id"),
            [
                {"id": r.id, "text": _search_text(r.first_name, r.last_name, r.username)}
                for r in rows
            ],
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("search_text")
