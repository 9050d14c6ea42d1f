"""How a delivery looks in the admin's chat: the live progress message and the final report."""

from __future__ import annotations

import math
from html import escape

from bot.delivery.engine import Tally
from bot.texts import Texts
from db.models import MessageStatus, User

BAR_WIDTH = 10


def duration(texts: Texts, seconds: float) -> str:
    seconds = max(0, round(seconds))
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return texts.duration_hours.format(h=hours, m=minutes)
    if minutes:
        template = texts.duration_minutes if secs else texts.duration_whole_minutes
        return template.format(m=minutes, s=secs)
    return texts.duration_seconds.format(s=secs)


def progress_text(texts: Texts, tally: Tally, rate: float, paused: float) -> str:
    """`sent/total`, a bar, the rate and the time left."""
    total = max(tally.total, 1)
    share = tally.done / total
    filled = math.floor(share * BAR_WIDTH)
    bar = "▓" * filled + "░" * (BAR_WIDTH - filled)
    left = (tally.total - tally.done) / rate if rate > 0 else None
    lines = [
        texts.progress_title.format(done=tally.done, total=tally.total),
        f"{bar} {math.floor(share * 100)}%",
        texts.progress_rate.format(
            rate=f"{rate:.1f}",
            left=duration(texts, left) if left is not None else texts.progress_unknown,
        ),
    ]
    if paused > 0:
        lines.append(texts.progress_paused.format(seconds=math.ceil(paused)))
    return "\n".join(lines)


def report_text(texts: Texts, status: MessageStatus, tally: Tally, seconds: float) -> str:
    title = {
        MessageStatus.DONE: texts.report_done,
        MessageStatus.STOPPED: texts.report_stopped,
    }.get(status, texts.report_failed)
    lines = [
        title,
        texts.report_delivered.format(delivered=tally.delivered, total=tally.total),
        texts.report_counts.format(
            failed=tally.failed,
            blocked=tally.blocked,
            unconfirmed=tally.unconfirmed,
            cancelled=tally.cancelled,
        ),
    ]
    if tally.total > tally.done:
        lines.append(texts.report_not_tried.format(n=tally.total - tally.done))
    lines.append(texts.report_duration.format(duration=duration(texts, seconds)))
    return "\n".join(lines)


def person(user: User | None, user_id: int, username: str | None) -> str:
    """A person as one HTML line: name, @username and id."""
    name = " ".join(p for p in ((user.first_name, user.last_name or "") if user else ()) if p)
    handle = f" @{username}" if username else ""
    return f"{escape(name or '—')}{escape(handle)} (<code>{user_id}</code>)"
