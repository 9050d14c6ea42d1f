"""SQLAlchemy models: the whole Herald schema, one source of truth for migrations."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    false,
    true,
)
from sqlalchemy import (
    text as sql_text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Stores naive UTC (SQLite has no zones) and always hands back aware UTC datetimes."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class CleanString(TypeDecorator[str]):
    """Text stored without NUL characters, which PostgreSQL refuses (people can type them)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Dialect) -> str | None:
        return None if value is None else value.replace("\x00", "")


class CleanText(CleanString):
    impl = Text
    cache_ok = True


def utcnow() -> datetime:
    return datetime.now(UTC)


class MessageKind(enum.StrEnum):
    TEXT = "text"
    PHOTO = "photo"
    VIDEO = "video"
    DOCUMENT = "document"
    ANIMATION = "animation"
    AUDIO = "audio"
    VOICE = "voice"


class RecipientType(enum.StrEnum):
    INDIVIDUAL = "individual"
    GROUP = "group"
    MIXED = "mixed"


class AuditAction(enum.StrEnum):
    DENIED = "denied"
    SEND = "send"
    STOP = "stop"
    RETRY = "retry"
    RESUME = "resume"
    SCHEDULE = "schedule"
    DISPATCH = "dispatch"
    IMPORT = "import"
    EXPORT = "export"
    MOVE = "move"
    REMOVE = "remove"
    STREAM_ADD = "stream_add"
    STREAM_RENAME = "stream_rename"
    STREAM_ARCHIVE = "stream_archive"
    STREAM_RESTORE = "stream_restore"
    RESCHEDULE = "reschedule"
    CANCEL = "cancel"
    MISSED = "missed"
    TIMEZONE = "timezone"
    LANGUAGE = "language"
    EDIT_ALL = "edit_all"
    DELETE_ALL = "delete_all"
    PIN_ALL = "pin_all"
    UNPIN_ALL = "unpin_all"
    REPLY = "reply"
    INBOX_DONE = "inbox_done"
    SERIES_SKIP = "series_skip"
    SERIES_PAUSE = "series_pause"
    SERIES_RESUME = "series_resume"
    SERIES_STOP = "series_stop"
    SERIES_EDIT = "series_edit"


class ActionKind(enum.StrEnum):
    """What a run does to the copies a broadcast left in people's chats."""

    EDIT = "edit"
    DELETE = "delete"
    PIN = "pin"
    UNPIN = "unpin"


class MessageStatus(enum.StrEnum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    SENDING = "sending"
    DONE = "done"
    STOPPED = "stopped"
    CANCELLED = "cancelled"
    FAILED = "failed"
    MISSED = "missed"


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    FAILED = "failed"
    BLOCKED = "blocked"
    UNCONFIRMED = "unconfirmed"
    CANCELLED = "cancelled"


COUNTER_OF: dict[DeliveryStatus, str] = {
    DeliveryStatus.SENT: "delivered",
    DeliveryStatus.FAILED: "failed",
    DeliveryStatus.BLOCKED: "blocked",
    DeliveryStatus.UNCONFIRMED: "unconfirmed",
    DeliveryStatus.CANCELLED: "cancelled",
}
"""The counter on `message_history` that each final delivery status is counted in."""


def _enum(cls: type[enum.StrEnum], length: int = 16) -> Enum:
    return Enum(
        cls,
        native_enum=False,
        create_constraint=False,
        length=length,
        values_callable=lambda members: [member.value for member in members],
    )


NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Stream(Base):
    __tablename__ = "streams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(CleanString(32), unique=True)
    title: Mapped[str] = mapped_column(CleanString(64))
    sort_order: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    archived: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


_BIDI_CONTROLS = dict.fromkeys(
    [0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)]
)


def full_name(first_name: str | None, last_name: str | None) -> str:
    """A person's name as Herald shows it, without the bidi controls that could make the rest
    of a line (an audit entry, a failures list) read backwards."""
    name = " ".join(p for p in (first_name or "", last_name or "") if p)
    return name.translate(_BIDI_CONTROLS)


def search_text(first_name: str, last_name: str | None, username: str | None) -> str:
    """What people search a person by, case-folded (SQLite's lower() knows only ASCII)."""
    handle = f"@{username}" if username else ""
    return " ".join(p for p in (first_name, last_name or "", handle) if p).casefold()


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(CleanString(64))
    first_name: Mapped[str] = mapped_column(CleanString(128), default="", server_default="")
    last_name: Mapped[str | None] = mapped_column(CleanString(128))
    language_code: Mapped[str | None] = mapped_column(CleanString(16))
    search_text: Mapped[str] = mapped_column(CleanString(400), default="", server_default="")
    stream_id: Mapped[int | None] = mapped_column(
        ForeignKey("streams.id", ondelete="SET NULL"), index=True
    )
    is_blocked: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), index=True
    )
    blocked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    joined_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: imported, not started
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class MessageHistory(Base):
    __tablename__ = "message_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    text: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    entities: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    file_id: Mapped[str | None] = mapped_column(CleanString(256))
    buttons: Mapped[list[list[dict[str, str]]]] = mapped_column(JSON, default=list)
    silent: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    protected: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    link_preview: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    selection: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    recipient_type: Mapped[RecipientType] = mapped_column(_enum(RecipientType))
    recipient_group: Mapped[str | None] = mapped_column(CleanString(32))
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus), index=True)
    scheduled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    progress_chat_id: Mapped[int | None] = mapped_column(BigInteger)
    progress_message_id: Mapped[int | None] = mapped_column(BigInteger)
    claimed_upto: Mapped[int] = mapped_column(BigInteger, default=0, server_default=sql_text("0"))
    lease_owner: Mapped[str | None] = mapped_column(CleanString(64))
    lease_epoch: Mapped[int] = mapped_column(BigInteger, default=0, server_default=sql_text("0"))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ledger_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default=sql_text("0"))
    """Ledger writes made so far: each is a compare-and-set on it, so a write repeated after its
    commit (its answer lost to a cancel or a dropped connection) is recognised and skipped."""
    resumed_in_doubt: Mapped[int | None] = mapped_column(Integer)
    """Set when a run took over an interrupted one: how many it found in doubt."""
    action: Mapped[ActionKind | None] = mapped_column(_enum(ActionKind))
    parent_id: Mapped[int | None] = mapped_column(Integer, index=True)
    """With `action`: this row is an edit, delete, pin or unpin of broadcast `parent_id` for
    everyone, run by the delivery engine like a send; its recipient rows are its own ledger.
    No foreign key: SQLite would rebuild (and cascade-empty) the table to add one."""
    answers_id: Mapped[int | None] = mapped_column(Integer)
    """An admin's reply to a student: the student's message (`inbox_messages.id`) it answers."""
    series_id: Mapped[int | None] = mapped_column(Integer)
    series_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """An occurrence of a repeating schedule (`series.id`) and the time its rule gave it, which
    stays when the occurrence is moved: one row per series and slot."""

    __table_args__ = (
        Index("ix_message_history_status_scheduled_at", "status", "scheduled_at"),
        Index("ix_message_history_recipient_type_id", "recipient_type", "id"),
        Index("ix_message_history_started_at", "started_at"),
        Index("ix_message_history_series_id_series_slot", "series_id", "series_slot", unique=True),
    )
    total: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    delivered: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    failed: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    blocked: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    unconfirmed: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    cancelled: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))


BROADCAST = MessageHistory.parent_id.is_(None)
"""Messages sent as such, not the edit/delete/pin runs on them (history, stats, people)."""


class MessageTarget(Base):
    """The groups a message was addressed to, one row each, so history filters use an index.

    `target` is `everyone`, `no_stream` or `stream:<id>` (see `db.repo.audience.targets`).
    """

    __tablename__ = "message_targets"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("message_history.id", ondelete="CASCADE"), primary_key=True
    )
    target: Mapped[str] = mapped_column(CleanString(40), primary_key=True)

    __table_args__ = (Index("ix_message_targets_target_message_id", "target", "message_id"),)


class MessageRecipient(Base):
    __tablename__ = "message_recipients"

    message_id: Mapped[int] = mapped_column(
        ForeignKey("message_history.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    username: Mapped[str | None] = mapped_column(CleanString(64))
    status: Mapped[DeliveryStatus] = mapped_column(_enum(DeliveryStatus))
    telegram_message_id: Mapped[int | None] = mapped_column(BigInteger)
    error: Mapped[str | None] = mapped_column(CleanString(512))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_message_recipients_message_id_status", "message_id", "status"),
        Index("ix_message_recipients_status_error", "status", "error", "message_id"),
    )


class ImportStatus(enum.StrEnum):
    APPLYING = "applying"
    UNDOING = "undoing"
    DONE = "done"
    UNDONE = "undone"


class ImportRun(Base):
    """One CSV import being applied; its journal rows say how to take it back."""

    __tablename__ = "imports"

    key: Mapped[str] = mapped_column(CleanString(16), primary_key=True)
    actor_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[ImportStatus] = mapped_column(_enum(ImportStatus), index=True)
    active: Mapped[bool | None] = mapped_column(Boolean, unique=True)
    """True while applying or undoing, else NULL: the unique index allows one such import."""
    rows: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    updated: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ImportJournal(Base):
    """Per person of an import: whether they existed, and if so what they were before it."""

    __tablename__ = "import_journal"

    import_key: Mapped[str] = mapped_column(
        ForeignKey("imports.key", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    existed: Mapped[bool] = mapped_column(Boolean)
    stream_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(CleanString(64))
    first_name: Mapped[str | None] = mapped_column(CleanString(128))
    last_name: Mapped[str | None] = mapped_column(CleanString(128))
    search_text: Mapped[str | None] = mapped_column(CleanString(400))


class Lease(Base):
    """Who holds a role shared by processes on one database (`active`: polls and sends)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(CleanString(32), primary_key=True)
    owner: Mapped[str] = mapped_column(CleanString(64))
    epoch: Mapped[int] = mapped_column(BigInteger)
    until: Mapped[datetime] = mapped_column(UTCDateTime)


class HandledUpdate(Base):
    """Telegram updates already handled, so one re-sent after a failover is not answered twice."""

    __tablename__ = "handled_updates"

    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    handled_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class AdminSetting(Base):
    """Per-admin details: the name shown in history and audit, an own time zone and language,
    and when their open draft began (drafts live in memory: a restart loses them, and the admin
    is told)."""

    __tablename__ = "admin_settings"

    admin_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    name: Mapped[str | None] = mapped_column(CleanString(128))
    timezone: Mapped[str | None] = mapped_column(CleanString(64))
    language: Mapped[str | None] = mapped_column(String(8))
    app_language: Mapped[str | None] = mapped_column(String(8))  # of their Telegram app, last seen
    draft_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AuditLog(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int] = mapped_column(BigInteger, index=True)
    action: Mapped[str] = mapped_column(CleanString(64))
    target: Mapped[str | None] = mapped_column(CleanString(128))
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SeriesStatus(enum.StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"
    FINISHED = "finished"  # its last occurrence was made


class Series(Base):
    """A repeating schedule: its rule and the message it sends. The next occurrence always
    exists as an ordinary scheduled message (`message_history.series_id`); when it leaves the
    queue (sent, missed, skipped) the one after it is made in the same transaction."""

    __tablename__ = "series"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    zone: Mapped[str] = mapped_column(CleanString(64))
    rule: Mapped[dict[str, Any]] = mapped_column(JSON)
    template: Mapped[dict[str, Any]] = mapped_column(JSON)  # content, options and selection
    made: Mapped[int] = mapped_column(Integer, default=0, server_default=sql_text("0"))
    skipped_to: Mapped[datetime | None] = mapped_column(UTCDateTime)
    """The latest slot skipped or cancelled: a resume never brings it (or one before) back."""
    status: Mapped[SeriesStatus] = mapped_column(_enum(SeriesStatus), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxMessage(Base):
    """A message a student wrote to the bot (with `[bot] replies = "forward"`); it is open until
    an admin answers the student or marks it done."""

    __tablename__ = "inbox_messages"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    telegram_message_id: Mapped[int] = mapped_column(BigInteger)  # in the student's chat
    kind: Mapped[str] = mapped_column(CleanString(16))
    text: Mapped[str] = mapped_column(CleanText, default="", server_default="")
    answers_message_id: Mapped[int | None] = mapped_column(Integer)  # the broadcast replied to
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    open: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true(), index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class InboxCopy(Base):
    """Where a student's message shows in an admin's chat (its header and its copy), so that
    the admin's own Telegram reply to either goes back to that student."""

    __tablename__ = "inbox_copies"

    admin_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    chat_message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    inbox_id: Mapped[int] = mapped_column(
        ForeignKey("inbox_messages.id", ondelete="CASCADE"), index=True
    )
