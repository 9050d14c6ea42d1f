"""How a delivery looks in the admin's chat: the live progress message and the final report."""

from __future__ import annotations

import math

from markupsafe import Markup

from bot.delivery.engine import Tally
from bot.texts import Texts
from bot.texts.render import html, join
from db.models import MessageStatus, User, full_name

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


def progress_text(texts: Texts, tally: Tally, rate: float, paused: float) -> Markup:
    """`sent/total`, a bar, the rate and the time left."""
    total = max(tally.total, 1)
    share = tally.done / total
    filled = math.floor(share * BAR_WIDTH)
    bar = "▓" * filled + "░" * (BAR_WIDTH - filled)
    left = (tally.total - tally.done) / rate if rate > 0 else None
    lines = [
        html(texts.progress_title, done=tally.done, total=tally.total),
        f"{bar} {math.floor(share * 100)}%",
        html(
            texts.progress_rate,
            rate=f"{rate:.1f}",
            left=duration(texts, left) if left is not None else texts.progress_unknown,
        ),
    ]
    if paused > 0:
        lines.append(html(texts.progress_paused, seconds=math.ceil(paused)))
    return join(lines)


def report_text(
    texts: Texts, status: MessageStatus, tally: Tally, seconds: float, in_doubt: int | None = None
) -> Markup:
    """The final report; `in_doubt` is given for a run that took over an interrupted one."""
    title = {
        MessageStatus.DONE: texts.report_done,
        MessageStatus.STOPPED: texts.report_stopped,
    }.get(status, texts.report_failed)
    lines = [
        title,
        html(texts.report_delivered, delivered=tally.delivered, total=tally.total),
        html(
            texts.report_counts,
            failed=tally.failed,
            blocked=tally.blocked,
            unconfirmed=tally.unconfirmed,
            cancelled=tally.cancelled,
        ),
    ]
    if tally.total > tally.done:
        lines.append(html(texts.report_not_tried, n=tally.total - tally.done))
    if in_doubt is not None:
        lines.append(html(texts.report_resumed, n=in_doubt))
    lines.append(html(texts.report_duration, duration=duration(texts, seconds)))
    return join(lines)


def person(user: User | None, user_id: int, username: str | None) -> Markup:
    """A person as one HTML line: name, @username and id."""
    name = full_name(user.first_name, user.last_name) if user else ""
    handle = f" @{username}" if username else ""
    return html("{name}{handle} (<code>{id}</code>)", name=name or "—", handle=handle, id=user_id)
