"""CSV import: a dry run against the database, then all-or-nothing application."""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from markupsafe import Markup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.parsing.people_csv import LineProblem, ParsedFile, PersonRow
from bot.texts import Texts
from bot.texts.render import capped, echo, fit, html, more
from db.engine import engine_of
from db.models import AuditAction, ImportStatus
from db.repo import audit, imports, streams, users
from db.repo.audit import Target

log = logging.getLogger(__name__)

PROBLEMS_SHOWN = 30
DETAIL_LIMIT = 40


@dataclass
class ImportPlan:
    """What Apply would do; `ready` only when every row is usable."""

    rows: list[PersonRow]
    existing: set[int]
    stream_ids: dict[str, int]
    unknown_streams: dict[str, list[int]] = field(default_factory=dict)
    problems: list[LineProblem] = field(default_factory=list)

    @property
    def new(self) -> int:
        return sum(1 for row in self.rows if row.user_id not in self.existing)

    @property
    def updated(self) -> int:
        return len(self.rows) - self.new

    @property
    def ready(self) -> bool:
        return bool(self.rows) and not self.problems and not self.unknown_streams


async def plan_import(session: AsyncSession, parsed: ParsedFile) -> ImportPlan:
    """Compare the file with the database; nothing is written."""
    known = {s.code: s.id for s in await streams.listed(session)}
    unknown: dict[str, list[int]] = defaultdict(list)
    for row in parsed.rows:
        if row.stream is not None and row.stream not in known:
            unknown[row.stream].append(row.line)
    existing = await users.existing_ids(session, [row.user_id for row in parsed.rows])
    return ImportPlan(parsed.rows, existing, known, dict(unknown), parsed.problems)


class Busy(Exception):
    """Another import is being applied (or taken back) right now."""


@dataclass(frozen=True)
class Applied:
    new: int
    updated: int


CHUNK = 500
MIN_GAP = 0.01
QUIET = timedelta(minutes=1)
"""An import not heard of for this long was cut short (its process died) and is taken back."""


async def apply_import(
    sessions: async_sessionmaker[AsyncSession],
    plan: ImportPlan,
    clock: Callable[[], datetime],
    actor_id: int,
    details: dict[str, Any] | None = None,
) -> Applied:
    """Apply a ready plan all or nothing without holding the database for the whole file.

    Each chunk is applied in its own short transaction with a journal of what it changed, so
    other writers (the delivery ledger, people starting the bot) get the database in between.
    If a chunk fails, or the task is cancelled, the journal takes every chunk back; if the
    process dies, `recover` does it later. The audit entry is written with the last step.
    """
    if not plan.ready:
        raise ValueError("the import has problems")
    key = secrets.token_hex(8)
    now = clock()
    try:
        async with sessions.begin() as session:
            await imports.begin(session, key, actor_id, len(plan.rows), now)
    except IntegrityError:
        raise Busy from None
    try:
        for start in range(0, len(plan.rows), CHUNK):
            began = time.monotonic()
            chunk = [_values(row, plan) for row in plan.rows[start : start + CHUNK]]
            async with sessions.begin() as session:
                await imports.apply_chunk(session, key, chunk, now, clock())
            await _make_room(engine_of(sessions).dialect.name, time.monotonic() - began)
        async with sessions.begin() as session:
            run = await imports.finish(session, key, clock())
            await audit.record(
                session,
                actor_id,
                AuditAction.IMPORT,
                now,
                target=Target(people=run.new + run.updated),
                details={"new": run.new, "updated": run.updated, **(details or {})},
            )
    except BaseException:
        await _take_back(sessions, key)
        raise
    await _drop_journal(sessions, key)
    return Applied(run.new, run.updated)


async def _make_room(dialect: str, busy: float) -> None:
    """On SQLite, leave the database to other writers for as long as the last chunk held it.

    SQLite has one writer at a time and its busy handler polls, so without a gap the import
    would take the lock back before a waiting /start or delivery ledger write got it.
    PostgreSQL locks rows, not the database: other writers never waited for a chunk.
    """
    await asyncio.sleep(max(MIN_GAP, busy) if dialect == "sqlite" else 0)


async def _take_back(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    """After a failure or a cancel: undo, unless a recovering process already took it over."""
    async with sessions.begin() as session:
        claimed = await imports.claim_undo(session, key)
    if claimed:
        await undo(sessions, key)


async def undo(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    """Take a partly applied import back, chunk by chunk, and mark it undone."""
    while True:
        async with sessions.begin() as session:
            if not await imports.undo_chunk(session, key, CHUNK):
                await imports.mark_undone(session, key)
                return
        await asyncio.sleep(0)


async def _drop_journal(sessions: async_sessionmaker[AsyncSession], key: str) -> None:
    while True:
        async with sessions.begin() as session:
            if await imports.drop_journal(session, key, CHUNK * 5) < CHUNK * 5:
                return
        await asyncio.sleep(0)


async def recover(sessions: async_sessionmaker[AsyncSession], now: datetime) -> list[str]:
    """Take back imports whose process died mid-way; returns their keys."""
    async with sessions() as session:
        keys = await imports.abandoned(session, now - QUIET)
    taken = []
    for key in keys:
        async with sessions.begin() as session:
            claimed = await imports.claim_undo(session, key, now - QUIET)
            undoing = claimed or await imports.status(session, key) is ImportStatus.UNDOING
        if undoing:
            log.warning("taking back import %s, cut short when its process stopped", key)
            await undo(sessions, key)
            taken.append(key)
    return taken


def _values(row: PersonRow, plan: ImportPlan) -> imports.Imported:
    stream_id = plan.stream_ids[row.stream] if row.stream is not None else None
    return imports.Imported(row.user_id, stream_id, row.username, row.first_name, row.last_name)


def report(texts: Texts, plan: ImportPlan) -> Markup:
    """The dry run as the admin reads it: counts, unknown streams, bad rows with line numbers.

    Cells from the file are quoted shortened and lists are capped, so the report fits one message.
    """
    bad = len({problem.line for problem in plan.problems})
    counts = html(
        texts.import_counts, rows=len(plan.rows) + bad, new=plan.new, updated=plan.updated
    )
    if bad:
        counts += html(texts.import_counts_bad, bad=bad)
    head = [html(texts.import_title), counts]
    items = []
    for code, at in sorted(plan.unknown_streams.items()):
        shown = ", ".join(str(n) for n in at[:10]) + ("…" if len(at) > 10 else "")
        lines = texts.form(texts.import_lines, len(at)).format(n=shown)
        items.append(html(texts.import_unknown_stream, code=echo(code, DETAIL_LIMIT), lines=lines))
    if plan.problems:
        items.append(html(texts.import_problems, count=len(plan.problems)))
        for problem in plan.problems:
            reason = html(
                texts.import_row_problems[problem.problem.value],
                detail=echo(problem.detail, DETAIL_LIMIT),
            )
            items.append(html(texts.import_line, line=problem.line, reason=reason))
    tail = [html(texts.import_ready if plan.ready else texts.import_not_ready)]
    return fit(head, capped(items, PROBLEMS_SHOWN, more(texts)), more(texts), tail)
