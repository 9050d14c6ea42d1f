"""Typed callback data: a short prefix plus named, typed fields, packed under 64 bytes."""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable
from typing import Any, ClassVar, Self, get_type_hints

_SEP = ":"
MAX_BYTES = 64
_INT = re.compile(r"-?[0-9]{1,16}")
"""Numbers in callback data: ASCII digits, few enough that ids and page offsets stay within a
64-bit column (a custom client can send any data)."""


class CallbackDataError(ValueError):
    """Raised for data that does not decode into the expected kind."""


class CallbackData:
    """Base for frozen dataclasses that declare `prefix=` and typed fields (int, str, enum)."""

    prefix: ClassVar[str]
    _registry: ClassVar[dict[str, type[CallbackData]]] = {}

    def __init_subclass__(cls, prefix: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if _SEP in prefix or prefix in CallbackData._registry:
            raise ValueError(f"bad or duplicate callback prefix {prefix!r}")
        cls.prefix = prefix
        CallbackData._registry[prefix] = cls

    def pack(self) -> str:
        parts = [self.prefix]
        for field in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, field.name)
            text = value.value if isinstance(value, enum.Enum) else str(value)
            if _SEP in str(text):
                raise ValueError(f"{field.name} may not contain {_SEP!r}")
            parts.append(str(text))
        packed = _SEP.join(parts)
        if len(packed.encode()) > MAX_BYTES:
            raise ValueError(f"callback data over {MAX_BYTES} bytes: {packed!r}")
        return packed

    @classmethod
    def unpack(cls, data: str) -> Self:
        prefix, *values = data.split(_SEP)
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        if prefix != cls.prefix or len(values) != len(fields):
            raise CallbackDataError(data)
        hints = get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        try:
            for field, raw in zip(fields, values, strict=True):
                kind = hints[field.name]
                if kind is int and _INT.fullmatch(raw) is None:
                    raise ValueError(raw)
                kwargs[field.name] = kind(raw)
            return cls(**kwargs)
        except (ValueError, TypeError) as exc:
            raise CallbackDataError(data) from exc

    @classmethod
    def matches(cls, where: Callable[[Self], bool] | None = None) -> Callable[[object], bool]:
        """A CallbackQueryHandler pattern: well-formed data of this kind, passing `where`."""

        def check(data: object) -> bool:
            if not isinstance(data, str):
                return False
            try:
                decoded = cls.unpack(data)
            except CallbackDataError:
                return False
            return where is None or where(decoded)

        return check


class MenuAction(enum.StrEnum):
    HOME = "home"
    STREAMS = "streams"
    SEND = "send"
    SCHEDULED = "sched"
    HISTORY = "hist"
    STATS = "stats"
    AUDIT = "audit"
    USERS = "users"


@dataclasses.dataclass(frozen=True)
class MenuCb(CallbackData, prefix="m"):
    action: MenuAction


class DeliveryAction(enum.StrEnum):
    STOP = "stop"
    FAILURES = "fail"
    FAILURES_PAGE = "fpg"
    RETRY = "retry"
    RETRY_ALL = "rall"  # failed and in doubt, after the warning
    RETRY_FAILED = "rf"  # only those surely not reached
    RESEND = "rs"  # after a stop: the cancelled and never tried
    REPORT = "rp"  # back to the report


@dataclasses.dataclass(frozen=True)
class DeliveryCb(CallbackData, prefix="d"):
    """A tap on a delivery screen; `card` is 1 when it was opened from the history card, so
    Back returns there."""

    action: DeliveryAction
    message_id: int
    page: int = 0
    card: int = 0


class ComposeAction(enum.StrEnum):
    CANCEL = "x"
    SKIP_BUTTONS = "skip"
    STREAM = "st"
    NO_STREAM = "ns"
    EVERYONE = "all"
    FIND = "find"
    PERSON = "p"
    PAGE = "pg"
    GROUPS = "grp"
    DONE = "done"
    SEND = "send"
    CONFIRM = "yes"
    BACK = "back"
    EDIT_MESSAGE = "em"
    EDIT_BUTTONS = "eb"
    EDIT_RECIPIENTS = "er"
    TEST = "test"
    SCHEDULE = "sch"
    QUICK_TIME = "qt"
    SCHEDULE_OK = "schok"
    OTHER_TIME = "ot"
    REPEAT = "rep"  # the "Repeat" screen after a time was chosen
    FREQUENCY = "fq"  # arg: 0 daily, 1 weekly, 2 monthly
    WEEKDAY = "wd"  # arg: 0 Monday .. 6 Sunday, toggled
    NO_END = "ne"
    SERIES_OK = "serok"
    SILENT = "os"  # review toggles: no sound, protected content, link preview
    PROTECT = "op"
    PREVIEW = "ol"
    CONTINUE = "go"  # a command came in the way of a draft: carry on with it
    DISCARD = "drop"  # ... or drop it


@dataclasses.dataclass(frozen=True)
class ComposeCb(CallbackData, prefix="c"):
    """A tap in the compose conversation; `draft` ties it to one draft so old menus expire."""

    draft: str
    action: ComposeAction
    arg: int = 0


@dataclasses.dataclass(frozen=True)
class RescheduleCb(CallbackData, prefix="w"):
    """A tap in the reschedule conversation: the "when" buttons, apart from a message draft's."""

    draft: str
    action: ComposeAction
    arg: int = 0


class QueueAction(enum.StrEnum):
    LIST = "ls"
    PREVIEW = "pv"
    SEND = "snd"
    SEND_OK = "sndok"
    CANCEL = "cx"
    CANCEL_OK = "cxok"
    RESCHEDULE = "rs"


@dataclasses.dataclass(frozen=True)
class QueueCb(CallbackData, prefix="q"):
    """A tap in the /scheduled list; `page` brings the admin back to where they were."""

    action: QueueAction
    message_id: int = 0
    page: int = 0


class HistoryAction(enum.StrEnum):
    LIST = "ls"
    FILTERS = "f"
    CARD = "c"
    PREVIEW = "p"
    EXPORT = "x"
    DRAFT = "d"


class HistoryKind(enum.StrEnum):
    ALL = "a"
    INDIVIDUAL = "i"
    GROUP = "g"
    MIXED = "m"


class HistoryTarget(enum.StrEnum):
    ALL = "a"
    EVERYONE = "e"
    NO_STREAM = "n"
    STREAM = "s"  # the one in `stream_id`


@dataclasses.dataclass(frozen=True)
class HistoryCb(CallbackData, prefix="h"):
    """A tap in /history; the filters and page ride along so every screen keeps them."""

    action: HistoryAction
    kind: HistoryKind = HistoryKind.ALL
    target: HistoryTarget = HistoryTarget.ALL
    stream_id: int = 0
    failed: int = 0  # 1: only messages that did not reach someone
    page: int = 0
    message_id: int = 0


class Period(enum.StrEnum):
    WEEK = "7"
    MONTH = "30"
    ALL = "all"


@dataclasses.dataclass(frozen=True)
class StatsCb(CallbackData, prefix="t"):
    period: Period


@dataclasses.dataclass(frozen=True)
class AuditCb(CallbackData, prefix="l"):
    actor: int = 0  # 0: every admin
    page: int = 0


class PeopleAction(enum.StrEnum):
    RESULTS = "r"
    CARD = "c"
    MOVE = "mv"
    REMOVE = "rm"
    UNDO = "un"
    MESSAGE = "msg"
    EXPORT = "x"


@dataclasses.dataclass(frozen=True)
class PeopleCb(CallbackData, prefix="p"):
    """A tap in /users; `arg` is a results page or a stream id (0: no stream), by action;
    for Undo, `now` is the stream the move put them in (the undo is refused if that changed)."""

    action: PeopleAction
    user_id: int = 0
    arg: int = 0
    now: int = 0


class ImportAction(enum.StrEnum):
    APPLY = "ok"
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class ImportCb(CallbackData, prefix="i"):
    """Apply or cancel one dry run; `token` tells it from older ones."""

    action: ImportAction
    token: str


class StreamAction(enum.StrEnum):
    ADD = "add"
    RENAME = "ren"
    ARCHIVE = "arc"
    ARCHIVE_OK = "arcok"
    RESTORE = "res"
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class StreamCb(CallbackData, prefix="sm"):
    action: StreamAction
    stream_id: int = 0


@dataclasses.dataclass(frozen=True)
class LanguageCb(CallbackData, prefix="lg"):
    """A language an admin picks in /language; empty: follow their Telegram app."""

    language: str = ""


class EveryoneAction(enum.StrEnum):
    ASK = "ask"  # the question with the count (for an edit: the edit conversation opens)
    GO = "go"  # confirmed: the run starts in the message the button sat under
    TOO_OLD = "old"  # delete after Telegram's 48 hours: says so instead


class EveryoneKind(enum.StrEnum):
    EDIT = "e"
    DELETE = "d"
    PIN = "p"
    UNPIN = "u"


@dataclasses.dataclass(frozen=True)
class EveryoneCb(CallbackData, prefix="a"):
    """Edit, delete, pin or unpin broadcast `message_id` for everyone (from its card);
    `seen` is the newest run the question was drawn after, so a second "Yes" is refused."""

    action: EveryoneAction
    kind: EveryoneKind
    message_id: int
    seen: int = 0


class EditAction(enum.StrEnum):
    KEEP_TEXT = "kt"  # only the buttons change
    KEEP_BUTTONS = "kb"
    NO_BUTTONS = "nb"
    CONFIRM = "ok"
    AGAIN = "re"  # start the new text over
    CANCEL = "x"


@dataclasses.dataclass(frozen=True)
class EditCb(CallbackData, prefix="ed"):
    """A tap in the edit-for-everyone conversation; `draft` ties it to one edit."""

    draft: str
    action: EditAction


class InboxAction(enum.StrEnum):
    LIST = "ls"
    THREAD = "t"
    REPLY = "r"
    PERSON = "p"
    DONE = "d"


@dataclasses.dataclass(frozen=True)
class InboxCb(CallbackData, prefix="ib"):
    """A tap on a student's message header, in /inbox or on a thread card; `page` is the
    /inbox page to come back to."""

    action: InboxAction
    user_id: int = 0
    page: int = 0


class SeriesAction(enum.StrEnum):
    SKIP = "sk"
    PAUSE = "pa"
    RESUME = "re"
    STOP = "st"
    STOP_OK = "stok"
    TEXT = "tx"


@dataclasses.dataclass(frozen=True)
class SeriesCb(CallbackData, prefix="sr"):
    """A tap on a repeating schedule in /scheduled; `page` is the list page to redraw."""

    action: SeriesAction
    series_id: int
    page: int = 0
    occurrence: int = 0  # Skip: the waiting occurrence the admin saw (0: none was waiting)
