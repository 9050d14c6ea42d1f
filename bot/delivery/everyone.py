"""Edit, delete, pin and unpin a sent broadcast for everyone: what may be done to it now, what
has been done, and opening a run for the delivery engine."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.delivery.actions import DELETE_WINDOW_HOURS
from bot.delivery.content import Content
from bot.views import words
from db.models import ActionKind, AuditAction, MessageHistory, MessageStatus
from db.repo import actions, audit, messages
from db.repo.audit import Target

AUDITED = {
    ActionKind.EDIT: AuditAction.EDIT_ALL,
    ActionKind.DELETE: AuditAction.DELETE_ALL,
    ActionKind.PIN: AuditAction.PIN_ALL,
    ActionKind.UNPIN: AuditAction.UNPIN_ALL,
}


class Refusal(enum.StrEnum):
    """Why an action cannot start; each has a sentence in the catalogs."""

    GONE = "gone"  # no such broadcast
    NOT_SENT = "not_sent"  # still sending, queued, or never went out
    BUSY = "busy"  # another edit, delete or pin of it is running
    NOBODY = "nobody"  # no copy left to change (none delivered, or all deleted)
    TOO_OLD = "too_old"  # delete: Telegram's 48 hours are over
    SUPERSEDED = "superseded"  # retrying a run that a later one came after
    DELETED = "deleted"  # sending a broadcast again after it was deleted for everyone
    CHANGED = "changed"  # another admin changed it since this screen was drawn


@dataclass(frozen=True)
class State:
    """What has been done to a broadcast's copies, for its card."""

    runs: list[MessageHistory]  # every run on the broadcast, oldest first
    reach: int  # copies an action would change now
    edits: list[MessageHistory]  # edit runs that changed at least one copy, oldest first
    deleted: int
    pinned: int  # copies pinned by the latest pin, if no unpin came after it
    running: MessageHistory | None
    deletable_until: datetime | None

    @property
    def last_edit(self) -> MessageHistory | None:
        return self.edits[-1] if self.edits else None

    @property
    def settled(self) -> bool:
        """Every copy reads as the last edit says (it reached all it was meant to)."""
        last = next((r for r in reversed(self.runs) if r.action is ActionKind.EDIT), None)
        return last is None or last.delivered == last.total

    def newest(self, action: ActionKind) -> int:
        """The id of the newest run a screen for `action` depends on (0: none): for an edit
        the last edit (its text is the starting point), otherwise any run."""
        relevant = [r for r in self.runs if action is not ActionKind.EDIT or r.action is action]
        return relevant[-1].id if relevant else 0


async def state(session: AsyncSession, parent: MessageHistory) -> State:
    runs = await actions.of(session, parent.id)
    pins = [r for r in runs if r.action in (ActionKind.PIN, ActionKind.UNPIN)]
    latest_pin = pins[-1] if pins else None
    sent = await actions.last_sent(session, parent.id)
    pinned = 0
    if latest_pin is not None and latest_pin.action is ActionKind.PIN:
        pinned = await actions.still_there(session, parent.id, latest_pin.id)
    return State(
        runs=runs,
        reach=await actions.reach(session, parent.id),
        edits=[r for r in runs if r.action is ActionKind.EDIT and r.delivered],
        deleted=sum(r.delivered for r in runs if r.action is ActionKind.DELETE),
        pinned=pinned,
        running=next((r for r in runs if r.status is MessageStatus.SENDING), None),
        deletable_until=sent + timedelta(hours=DELETE_WINDOW_HOURS) if sent else None,
    )


def current_content(parent: MessageHistory, seen: State) -> Content:
    """The broadcast as people see it now: its last edit over the original (an edit that only
    changed the caption keeps the file the copies had)."""
    content = Content.of(parent)
    file_id = parent.file_id
    kind = parent.kind
    for edit in seen.edits:
        if edit.file_id is not None:
            file_id, kind = edit.file_id, edit.kind
        content = Content.of(edit)
    return Content(kind, content.text, content.entities, file_id, content.buttons, content.options)


def refusal(
    parent: MessageHistory | None, seen: State | None, action: ActionKind, now: datetime
) -> Refusal | None:
    if parent is None or parent.parent_id is not None or seen is None:
        return Refusal.GONE
    if parent.status not in actions.FINISHED:
        return Refusal.NOT_SENT
    if seen.running is not None:
        return Refusal.BUSY
    if seen.reach == 0:
        return Refusal.NOBODY
    if action is ActionKind.DELETE and (
        seen.deletable_until is None or now >= seen.deletable_until
    ):
        return Refusal.TOO_OLD
    return None


SUPERSEDED_BY = {
    ActionKind.EDIT: {ActionKind.EDIT},
    ActionKind.PIN: {ActionKind.PIN, ActionKind.UNPIN},
    ActionKind.UNPIN: {ActionKind.PIN, ActionKind.UNPIN},
    ActionKind.DELETE: set(),
}
"""A later run of these kinds makes retrying an older one wrong: an older edit would put its
text back, an older pin its pin. Deleting more of what is left is always consistent."""


async def retry_refusal(
    session: AsyncSession, message: MessageHistory, now: datetime
) -> Refusal | None:
    """Why "Retry failed" or "Continue" on a broadcast, or on one of its runs, cannot start."""
    parent_id = message.parent_id or message.id
    runs = await actions.of(session, parent_id)
    if any(r.status is MessageStatus.SENDING and r.id != message.id for r in runs):
        return Refusal.BUSY
    if message.action is None:
        deleted = any(r.action is ActionKind.DELETE and r.delivered for r in runs)
        return Refusal.DELETED if deleted else None
    parent = await messages.get(session, parent_id)
    if parent is None or parent.status not in actions.FINISHED:
        return Refusal.BUSY
    later = [r for r in runs if r.id > message.id]
    if any(r.action in SUPERSEDED_BY[message.action] for r in later):
        return Refusal.SUPERSEDED
    if message.action is ActionKind.DELETE:
        sent = await actions.last_sent(session, parent_id)
        if sent is None or now >= sent + timedelta(hours=DELETE_WINDOW_HOURS):
            return Refusal.TOO_OLD
    return None


async def look(
    sessions: async_sessionmaker[AsyncSession], message_id: int
) -> tuple[MessageHistory | None, State | None]:
    """A broadcast and what was done to it (an action's number leads to its broadcast)."""
    async with sessions() as session:
        message = await messages.get(session, message_id)
        if message is not None and message.parent_id is not None:
            message = await messages.get(session, message.parent_id)
        if message is None:
            return None, None
        return message, await state(session, message)


async def open_run(
    sessions: async_sessionmaker[AsyncSession],
    clock: Callable[[], datetime],
    author_id: int,
    parent_id: int,
    action: ActionKind,
    content: Content | None = None,
    replaces_file: bool = False,
    expect: int | None = None,
) -> MessageHistory | Refusal:
    """Store an action run with one pending row per copy, audited, ready for the engine; or
    why it cannot start. Two admins at once: one gets the run, the other BUSY. `expect` is
    `State.newest` as the admin's screen saw it: a run since then refuses (CHANGED), so an
    edit never puts back a text another admin just replaced, nor a second "Yes" act twice."""
    now = clock()
    async with sessions.begin() as session:
        await actions.lock(session, parent_id)
        parent = await messages.get(session, parent_id)
        seen = await state(session, parent) if parent is not None else None
        refused = refusal(parent, seen, action, now)
        if refused is None and expect is not None and seen is not None:
            refused = Refusal.CHANGED if seen.newest(action) != expect else None
        if refused is not None:
            return refused
        assert parent is not None and seen is not None
        before = current_content(parent, seen)
        new = content if action is ActionKind.EDIT and content is not None else before
        run = MessageHistory(
            author_id=author_id,
            kind=new.kind,
            text=new.text,
            entities=list(new.entities),
            file_id=new.file_id if replaces_file else None,
            buttons=new.buttons_json(),
            silent=parent.silent,
            protected=parent.protected,
            link_preview=parent.link_preview,
            selection=parent.selection,
            recipient_type=parent.recipient_type,
            recipient_group=parent.recipient_group,
            status=MessageStatus.SENDING,
            created_at=now,
            started_at=now,
            action=action,
            parent_id=parent_id,
        )
        total = await actions.create(session, run, parent_id)
        edited = action is ActionKind.EDIT and _words(before) != _words(new)
        await audit.record(
            session,
            author_id,
            AUDITED[action],
            now,
            target=Target(
                message=parent_id,
                was=_words(before) if edited else None,
                now=_words(new) if edited else None,
            ),
            details={"recipients": total, "run": run.id},
        )
    return run


def _words(content: Content) -> str:
    return words(content.text) or f"[{content.kind.value}]"
