"""Repository functions: each takes a session and never commits; the caller owns the transaction."""

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

Db = AsyncSession | AsyncConnection
"""What the delivery ledger's repository functions take: it holds one connection for a run."""
