"""Alembic environment: runs on a connection handed in by Herald, or on the URL in alembic.ini."""

from __future__ import annotations

from typing import Any, Literal, cast

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection, String, create_engine, pool

from db.models import Base, CleanString, CleanText, UTCDateTime

target_metadata = Base.metadata


def _render_item(kind: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write UTCDateTime columns as plain DateTime: the UTC handling lives in the model."""
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime()"
    if kind == "type" and isinstance(obj, CleanText):
        return "sa.Text()"
    if kind == "type" and isinstance(obj, CleanString):
        return f"sa.String(length={cast(String, obj.impl_instance).length})"
    return False


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.config.get_main_option("sqlalchemy.url") or "sqlite:///herald.db"
    engine = create_engine(url.replace("+aiosqlite", ""), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _run(conn)


run_migrations_online()
