"""CSV import: a dry run against the database, then all-or-nothing application."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from markupsafe import Markup
from sqlalchemy.ext.asyncio import AsyncSession

from bot.parsing.people_csv import LineProblem, ParsedFile, PersonRow
from bot.texts import Texts
from bot.texts.render import echo, html, join
from db.repo import streams, users

PROBLEMS_SHOWN = 20
STREAMS_SHOWN = 10
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


async def apply_import(session: AsyncSession, plan: ImportPlan, now: datetime) -> None:
    """Write every row in the caller's transaction; the plan must be ready."""
    if not plan.ready:
        raise ValueError("the import has problems")
    await users.import_people(
        session,
        [_values(row, plan) for row in plan.rows if row.user_id not in plan.existing],
        [_values(row, plan) for row in plan.rows if row.user_id in plan.existing],
        now,
    )


def _values(row: PersonRow, plan: ImportPlan) -> users.Imported:
    stream_id = plan.stream_ids[row.stream] if row.stream is not None else None
    return users.Imported(row.user_id, stream_id, row.username, row.first_name, row.last_name)


def report(texts: Texts, plan: ImportPlan) -> Markup:
    """The dry run as the admin reads it: counts, unknown streams, bad rows with line numbers.

    Cells from the file are quoted shortened and lists are capped, so the report fits one message.
    """
    lines = [
        html(texts.import_title),
        html(texts.import_counts, rows=len(plan.rows), new=plan.new, updated=plan.updated),
    ]
    unknown = sorted(plan.unknown_streams.items())
    for code, at in unknown[:STREAMS_SHOWN]:
        shown = ", ".join(str(n) for n in at[:10]) + ("…" if len(at) > 10 else "")
        lines.append(html(texts.import_unknown_stream, code=echo(code, DETAIL_LIMIT), lines=shown))
    if len(unknown) > STREAMS_SHOWN:
        lines.append(html(texts.import_more, count=len(unknown) - STREAMS_SHOWN))
    if plan.problems:
        lines.append(html(texts.import_problems, count=len(plan.problems)))
        for problem in plan.problems[:PROBLEMS_SHOWN]:
            reason = html(
                texts.import_row_problems[problem.problem.value],
                detail=echo(problem.detail, DETAIL_LIMIT),
            )
            lines.append(html(texts.import_line, line=problem.line, reason=reason))
        if len(plan.problems) > PROBLEMS_SHOWN:
            lines.append(html(texts.import_more, count=len(plan.problems) - PROBLEMS_SHOWN))
    lines.append(html(texts.import_ready if plan.ready else texts.import_not_ready))
    return join(lines)
