"""history and stats

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _targets(selection: dict[str, object]) -> list[str]:
    found = []
    if selection.get("everyone"):
        found.append("everyone")
    if selection.get("no_stream"):
        found.append("no_stream")
    streams = selection.get("streams") or []
    assert isinstance(streams, list)
    found += [f"stream:{int(i)}" for i in streams]
    return found


def upgrade() -> None:
    op.create_table(
        "message_targets",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("target", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["message_id"],
            ["message_history.id"],
            name=op.f("fk_message_targets_message_id_message_history"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("message_id", "target", name=op.f("pk_message_targets")),
    )
    with op.batch_alter_table("message_targets", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_targets_target_message_id", ["target", "message_id"], unique=False
        )

    with op.batch_alter_table("admin_settings", schema=None) as batch_op:
        batch_op.add_column(sa.Column("name", sa.String(length=128), nullable=True))

    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_history_recipient_type_id", ["recipient_type", "id"], unique=False
        )
        batch_op.create_index("ix_message_history_started_at", ["started_at"], unique=False)

    with op.batch_alter_table("message_recipients", schema=None) as batch_op:
        batch_op.create_index(
            "ix_message_recipients_status_error", ["status", "error", "message_id"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_users_is_blocked"), ["is_blocked"], unique=False)
        batch_op.create_index(batch_op.f("ix_users_joined_at"), ["joined_at"], unique=False)

    bind = op.get_bind()
    rows = bind.execute(sa.text("SELECT id, selection FROM message_history")).all()
    targets = [
        {"message_id": row.id, "target": target}
        for row in rows
        for target in _targets(json.loads(row.selection) if row.selection else {})
    ]
    if targets:
        bind.execute(
            sa.text(
                "INSERT INTO message_targets (message_id, target) VALUES (:message_id, :target)"
            ),
            targets,
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_users_joined_at"))
        batch_op.drop_index(batch_op.f("ix_users_is_blocked"))

    with op.batch_alter_table("message_recipients", schema=None) as batch_op:
        batch_op.drop_index("ix_message_recipients_status_error")

    with op.batch_alter_table("message_history", schema=None) as batch_op:
        batch_op.drop_index("ix_message_history_started_at")
        batch_op.drop_index("ix_message_history_recipient_type_id")

    with op.batch_alter_table("admin_settings", schema=None) as batch_op:
        batch_op.drop_column("name")

    with op.batch_alter_table("message_targets", schema=None) as batch_op:
        batch_op.drop_index("ix_message_targets_target_message_id")

    op.drop_table("message_targets")
