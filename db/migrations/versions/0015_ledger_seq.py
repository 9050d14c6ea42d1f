"""a sequence number on each ledger write, so a write repeated after its commit is recognised

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ledger_seq", sa.BigInteger(), server_default=sa.text("0"), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.drop_column("ledger_seq")
