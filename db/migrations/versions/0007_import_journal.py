"""import journal

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("key", sa.String(length=16), nullable=False),
        sa.Column("actor_id", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("new", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("updated", sa.Integer(), server_default=sa.text("0"), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_imports")),
        sa.UniqueConstraint("active", name=op.f("uq_imports_active")),
    )
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_imports_status"), ["status"], unique=False)
    op.create_table(
        "import_journal",
        sa.Column("import_key", sa.String(length=16), nullable=False),
        sa.Column("user_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("existed", sa.Boolean(), nullable=False),
        sa.Column("stream_id", sa.Integer(), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("first_name", sa.String(length=128), nullable=True),
        sa.Column("last_name", sa.String(length=128), nullable=True),
        sa.Column("search_text", sa.String(length=400), nullable=True),
        sa.ForeignKeyConstraint(
            ["import_key"],
            ["imports.key"],
            name=op.f("fk_import_journal_import_key_imports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("import_key", "user_id", name=op.f("pk_import_journal")),
    )


def downgrade() -> None:
    op.drop_table("import_journal")
    with op.batch_alter_table("imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_imports_status"))
    op.drop_table("imports")
