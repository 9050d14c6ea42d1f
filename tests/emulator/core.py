"""An in-memory Bot API: chats, messages, edits, commands, updates, and injectable failures."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import json
import re
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from tests.emulator.html import parse_html

JSON = dict[str, Any]

_JSON_FIELDS = {
    "reply_markup",
    "entities",
    "caption_entities",
    "commands",
    "scope",
    "link_preview_options",
    "allowed_updates",
    "reply_parameters",
    "media",
    "allow_paid_broadcast",
    "disable_notification",
    "protect_content",
}
DELETE_WINDOW = 48 * 3600
"""Seconds a bot may delete its own messages in a private chat."""
_EDITS = ("editMessageText", "editMessageCaption", "editMessageReplyMarkup", "editMessageMedia")
_EDITABLE_MEDIA = ("photo", "video", "document", "animation", "audio")

_MEDIA = {
    "sendPhoto": "photo",
    "sendVideo": "video",
    "sendDocument": "document",
    "sendAnimation": "animation",
    "sendAudio": "audio",
    "sendVoice": "voice",
}


class FaultKind(enum.Enum):
    """What the emulator does instead of answering normally."""

    BLOCKED = "blocked"  # 403 bot was blocked by the user
    DEACTIVATED = "deactivated"  # 403 user is deactivated
    CHAT_NOT_FOUND = "chat_not_found"  # 400
    RETRY_AFTER = "retry_after"  # 429 with parameters.retry_after
    SERVER_ERROR = "server_error"  # 502 Bad Gateway
    TIMEOUT = "timeout"  # no answer in time; `delivered` says whether the send happened
    DROP = "drop"  # connection refused or reset before the request reached the server
    CUT = "cut"  # connection cut after the request was handled: the send happened, no answer
    GARBLED = "garbled"  # 200 with a result of the wrong shape (a bug to survive)
    BAD_REQUEST = "bad_request"  # 400 with `description` (e.g. a method Telegram refuses)
    SLOW = "slow"  # answers normally after `delay` seconds


@dataclass
class Fault:
    kind: FaultKind
    chat_id: int | None = None
    method: str | None = None
    times: int | None = 1  # None: every time
    retry_after: int = 1
    delivered: bool = True
    description: str = "Bad Request: refused"
    delay: float = 0.0

    def matches(self, method: str, chat_id: int | None) -> bool:
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.chat_id is None or self.chat_id == chat_id


class TransportFault(Exception):
    """Raised to the transport layer, which turns it into a timeout or a dropped connection."""

    def __init__(self, kind: FaultKind) -> None:
        super().__init__(kind.value)
        self.kind = kind


@dataclass(frozen=True)
class Upload:
    """A file the bot uploaded (rather than sending a known file_id)."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class Arrival:
    at: float
    method: str
    chat_id: int | None


@dataclass
class ApiError(Exception):
    status: int
    description: str
    retry_after: int | None = None


@dataclass
class Emulator:
    """Telegram as the bot sees it; tests act as people through the update builders."""

    token: str = "123456:TEST-token_abc"
    bot_id: int = 123456
    bot_username: str = "herald_test_bot"
    users: dict[int, JSON] = field(default_factory=dict)
    blocked: set[int] = field(default_factory=set)
    chats: dict[int, list[JSON]] = field(default_factory=lambda: defaultdict(list))
    commands: dict[str, list[JSON]] = field(default_factory=dict)
    callback_answers: list[JSON] = field(default_factory=list)
    arrivals: list[Arrival] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    updates: list[JSON] = field(default_factory=list)
    groups: dict[int, JSON] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    asked: list[str] = field(default_factory=list)
    conflicts: int = 0
    latency: float = 0.0
    open_chats: bool = False  # every positive id is a chat that started the bot (benchmarks)
    keep_messages: bool = True  # False: count sends without storing them (benchmarks)
    pinned: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))
    before: dict[str, Callable[[int | None], Awaitable[None]]] = field(default_factory=dict)
    """Something to run, given the chat, while a call of that method is in flight (to force a
    race's order, or hold some calls)."""
    deleted: dict[int, list[int]] = field(default_factory=lambda: defaultdict(list))

    def __post_init__(self) -> None:
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = defaultdict(lambda: itertools.count(1))
        self._file_ids = itertools.count(1)
        self._callback_ids = itertools.count(1)
        self._new_update = asyncio.Event()
        self._polls = 0
        self._typed: list[str] = []  # what people wrote, to tell their text from our escaping
        self._answered: set[str] = set()

    # ----- people and their updates -------------------------------------------------------

    @property
    def bot_user(self) -> JSON:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "Herald",
            "username": self.bot_username,
            "can_join_groups": False,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
        }

    def add_user(
        self,
        user_id: int,
        first_name: str = "Test",
        last_name: str | None = None,
        username: str | None = None,
        language_code: str | None = "en",
    ) -> JSON:
        """A person who has opened a chat with the bot (Telegram knows the chat from then on)."""
        user: JSON = {"id": user_id, "is_bot": False, "first_name": first_name}
        if last_name:
            user["last_name"] = last_name
        if username:
            user["username"] = username
        if language_code:
            user["language_code"] = language_code
        self.users[user_id] = user
        return user

    def _chat(self, chat_id: int) -> JSON:
        return self.groups.get(chat_id) or self._private_chat(chat_id)

    def _private_chat(self, user_id: int) -> JSON:
        user = self.users.get(user_id, {"id": user_id, "first_name": "?"})
        chat: JSON = {"id": user_id, "type": "private", "first_name": user["first_name"]}
        for key in ("last_name", "username"):
            if key in user:
                chat[key] = user[key]
        return chat

    def _next_message_id(self, chat_id: int) -> int:
        return next(self._message_ids[chat_id])

    def _queue(self, update: JSON) -> JSON:
        update = {"update_id": next(self._update_ids), **update}
        self.updates.append(update)
        self._new_update.set()
        return update

    def user_message(self, user_id: int, text: str | None = None, **extra: Any) -> JSON:
        """An update for a message a person sends to the bot (commands get their entity)."""
        message: JSON = {
            "message_id": self._next_message_id(user_id),
            "from": self.users[user_id],
            "chat": self._private_chat(user_id),
            "date": int(time.time()),
        }
        if text is not None:
            message["text"] = text
            if text.startswith("/"):
                length = len(text.split()[0])
                message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        message.update(extra)
        self.chats[user_id].append(message)
        self._typed.append(str(message.get("text") or message.get("caption") or ""))
        return self._queue({"message": message})

    def add_group(self, chat_id: int, title: str = "Course chat") -> JSON:
        """A supergroup the bot is a member of."""
        chat: JSON = {"id": chat_id, "type": "supergroup", "title": title}
        self.groups[chat_id] = chat
        return chat

    def group_message(self, user_id: int, chat_id: int, text: str) -> JSON:
        """An update for a message a person writes in a group the bot is in."""
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self.users[user_id],
            "chat": self.groups[chat_id],
            "date": int(time.time()),
            "text": text,
        }
        self._typed.append(text)
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
        self.chats[chat_id].append(message)
        return self._queue({"message": message})

    def group_callback(self, user_id: int, chat_id: int, message_id: int, data: str) -> JSON:
        """A tap on a button under one of the bot's messages in a group."""
        message = self.find_message(chat_id, message_id) or {
            "message_id": message_id,
            "chat": self.groups[chat_id],
            "date": 0,
        }
        query = {
            "id": self._new_query_id(),
            "from": self.users[user_id],
            "chat_instance": str(chat_id),
            "message": message,
            "data": data,
        }
        return self._queue({"callback_query": query})

    def callback(self, user_id: int, message_id: int, data: str) -> JSON:
        """An update for a tap on an inline button under one of the bot's messages."""
        message = self.find_message(user_id, message_id) or {
            "message_id": message_id,
            "chat": self._private_chat(user_id),
            "date": 0,
        }
        query = {
            "id": self._new_query_id(),
            "from": self.users[user_id],
            "chat_instance": str(user_id),
            "message": message,
            "data": data,
        }
        return self._queue({"callback_query": query})

    def _new_query_id(self) -> str:
        query_id = str(next(self._callback_ids))
        self.asked.append(query_id)
        return query_id

    @property
    def unanswered(self) -> list[str]:
        """Button taps the bot never answered (the phone would show a spinner)."""
        return [q for q in self.asked if q not in self._answered]

    def member_status(self, user_id: int, status: str) -> JSON:
        """A my_chat_member update: "kicked" when a person blocks the bot, "member" when back."""
        old = "member" if status == "kicked" else "kicked"
        if status == "kicked":
            self.blocked.add(user_id)
        else:
            self.blocked.discard(user_id)
        bot_member = {"user": self.bot_user}
        change = {
            "chat": self._private_chat(user_id),
            "from": self.users[user_id],
            "date": int(time.time()),
            "old_chat_member": {**bot_member, "status": old, **_kicked_extra(old)},
            "new_chat_member": {**bot_member, "status": status, **_kicked_extra(status)},
        }
        return self._queue({"my_chat_member": change})

    # ----- what the bot did -----------------------------------------------------------------

    def find_message(self, chat_id: int, message_id: int) -> JSON | None:
        for message in self.chats.get(chat_id, []):
            if message["message_id"] == message_id:
                return message
        return None

    def bot_messages(self, chat_id: int) -> list[JSON]:
        return [
            m for m in self.chats.get(chat_id, []) if m.get("from", {}).get("id") == self.bot_id
        ]

    def texts_to(self, chat_id: int) -> list[str]:
        """What the bot's messages to `chat_id` say (text or caption), oldest first."""
        return [m.get("text") or m.get("caption", "") for m in self.bot_messages(chat_id)]

    def last_bot_message(self, chat_id: int) -> JSON:
        messages = self.bot_messages(chat_id)
        assert messages, f"the bot sent nothing to {chat_id}"
        return messages[-1]

    def user_document(
        self, user_id: int, filename: str, content: bytes, mime_type: str = "text/csv"
    ) -> JSON:
        """An update for a file a person sends; the bot can fetch it with getFile."""
        file_id = f"DOC{next(self._file_ids)}"
        self.files[file_id] = content
        self._typed.append(content.decode("utf-8", errors="replace"))
        document = {
            "file_id": file_id,
            "file_unique_id": f"U{file_id}",
            "file_name": filename,
            "mime_type": mime_type,
            "file_size": len(content),
        }
        return self.user_message(user_id, None, document=document)

    def download(self, token: str, path: str) -> bytes | None:
        """The bytes behind a `file_path` from getFile, or None."""
        if token != self.token or not path.startswith("files/"):
            return None
        return self.files.get(path.removeprefix("files/"))

    def wake_pollers(self) -> None:
        """End every waiting long poll now (the server is shutting down)."""
        self._new_update.set()

    def fail(self, kind: FaultKind, **kwargs: Any) -> Fault:
        fault = Fault(kind, **kwargs)
        self.faults.append(fault)
        return fault

    # ----- the API ----------------------------------------------------------------------------

    async def call(
        self, token: str, method: str, raw: dict[str, str], files: dict[str, Upload] | None = None
    ) -> tuple[int, JSON]:
        """Answer one Bot API call as Telegram would; raises TransportFault for network faults."""
        if token != self.token:
            return 401, {"ok": False, "error_code": 401, "description": "Unauthorized"}
        params = _decode(raw)
        for name, upload in (files or {}).items():
            params[name] = upload
        chat_id = _int_or_none(params.get("chat_id"))
        self.arrivals.append(Arrival(time.monotonic(), method, chat_id))
        if self.latency:
            await asyncio.sleep(self.latency)
        hook = self.before.get(method)
        if hook is not None:
            await hook(chat_id)
        try:
            fault = self._take_fault(method, chat_id)
            if fault is not None and fault.kind is FaultKind.GARBLED:
                return 200, {"ok": True, "result": True}
            if fault is not None and fault.kind is FaultKind.SLOW:
                await asyncio.sleep(fault.delay)
            elif fault is not None:
                self._raise_fault(fault, method, params)
            result = await self._dispatch(method, params)
        except ApiError as err:
            body: JSON = {"ok": False, "error_code": err.status, "description": err.description}
            if err.retry_after is not None:
                body["parameters"] = {"retry_after": err.retry_after}
            return err.status, body
        return 200, {"ok": True, "result": result}

    def _take_fault(self, method: str, chat_id: int | None) -> Fault | None:
        for fault in self.faults:
            if fault.matches(method, chat_id):
                if fault.times is not None:
                    fault.times -= 1
                return fault
        return None

    def _raise_fault(self, fault: Fault, method: str, params: JSON) -> None:
        kind = fault.kind
        if kind is FaultKind.BLOCKED:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if kind is FaultKind.DEACTIVATED:
            raise ApiError(403, "Forbidden: user is deactivated")
        if kind is FaultKind.CHAT_NOT_FOUND:
            raise ApiError(400, "Bad Request: chat not found")
        if kind is FaultKind.RETRY_AFTER:
            raise ApiError(
                429,
                f"Too Many Requests: retry after {fault.retry_after}",
                retry_after=fault.retry_after,
            )
        if kind is FaultKind.SERVER_ERROR:
            raise ApiError(502, "Bad Gateway")
        if kind is FaultKind.BAD_REQUEST:
            raise ApiError(400, fault.description)
        delivers = kind is FaultKind.CUT or (kind is FaultKind.TIMEOUT and fault.delivered)
        if delivers and method.startswith("send"):
            self._send(method, params)
        raise TransportFault(kind)

    async def _dispatch(self, method: str, params: JSON) -> Any:
        if method == "getMe":
            return self.bot_user
        if method in ("deleteWebhook", "setWebhook", "sendChatAction", "close", "logOut"):
            return True
        if method == "getUpdates":
            return await self._get_updates(params)
        if method == "getFile":
            file_id = str(params.get("file_id", ""))
            if file_id not in self.files:
                raise ApiError(400, "Bad Request: invalid file_id")
            return {
                "file_id": file_id,
                "file_unique_id": f"U{file_id}",
                "file_size": len(self.files[file_id]),
                "file_path": f"files/{file_id}",
            }
        if method == "sendMessage" or method in _MEDIA:
            return self._send(method, params)
        if method in _EDITS:
            return self._edit(method, params)
        if method == "copyMessage":
            return self._copy_message(params)
        if method == "deleteMessage":
            self._delete(self._existing(params, "delete"))
            return True
        if method == "deleteMessages":
            chat_id = self._check_chat(_int_or_none(params.get("chat_id")))
            ids = params.get("message_ids")
            ids = json.loads(ids) if isinstance(ids, str) else ids
            if not isinstance(ids, list) or not 1 <= len(ids) <= 100:
                raise ApiError(400, "Bad Request: message_ids must be a list of 1-100 ids")
            for message_id in ids:
                message = self.find_message(chat_id, int(message_id))
                if message is not None and self._deletable(message):
                    self._delete(message)
            return True
        if method == "pinChatMessage":
            message = self._existing(params, "pin")
            chat_id = message["chat"]["id"]
            if message["message_id"] not in self.pinned[chat_id]:
                self.pinned[chat_id].append(message["message_id"])
            message["_pinned_silently"] = params.get("disable_notification") in (True, "true")
            return True
        if method == "unpinChatMessage":
            chat_id = self._check_chat(_int_or_none(params.get("chat_id")))
            message_id = _int_or_none(params.get("message_id"))
            pins = self.pinned[chat_id]
            if message_id is None:
                pins.pop() if pins else None
            elif message_id in pins:
                pins.remove(message_id)
            return True
        if method == "answerCallbackQuery":
            query_id = str(params.get("callback_query_id"))
            if query_id in self._answered:
                raise ApiError(400, "Bad Request: query is too old and response timeout expired")
            if len(str(params.get("text") or "")) > 200:
                raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            self._answered.add(query_id)
            self.callback_answers.append(params)
            return True
        if method == "setMyCommands":
            self._check_scope_chat(params)
            self.commands[_scope_key(params.get("scope"))] = params["commands"]
            return True
        if method == "getMyCommands":
            return self.commands.get(_scope_key(params.get("scope")), [])
        if method == "deleteMyCommands":
            self.commands.pop(_scope_key(params.get("scope")), None)
            return True
        raise ApiError(404, "Not Found")

    async def _get_updates(self, params: JSON) -> list[JSON]:
        """Long polling as Telegram does it, including its one-poller rule: a new getUpdates
        ends a waiting one with 409 Conflict (a second bot instance polling the same token)."""
        self._polls += 1
        mine = self._polls
        self._new_update.set()
        offset = int(params.get("offset", 0) or 0)
        timeout = float(params.get("timeout", 0) or 0)
        self.updates = [u for u in self.updates if u["update_id"] >= offset]
        if not self.updates and timeout:
            self._new_update = asyncio.Event()
            waiting = self._new_update
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiting.wait(), timeout)
        if mine != self._polls:
            self.conflicts += 1
            raise ApiError(
                409,
                "Conflict: terminated by other getUpdates request; make sure that only one bot "
                "instance is running",
            )
        return list(self.updates)

    def _check_chat(self, chat_id: int | None) -> int:
        known = chat_id is not None and (
            chat_id in self.users or chat_id in self.groups or (self.open_chats and chat_id > 0)
        )
        if chat_id is None or not known:
            raise ApiError(400, "Bad Request: chat not found")
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _check_scope_chat(self, params: JSON) -> None:
        scope = params.get("scope") or {}
        if scope.get("type") == "chat" and int(scope["chat_id"]) not in self.users:
            raise ApiError(400, "Bad Request: chat not found")

    def _send(self, method: str, params: JSON) -> JSON:
        chat_id = self._check_chat(_int_or_none(params.get("chat_id")))
        _check_markup(params)
        message: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        if method == "sendMessage":
            text, entities = self._formatted(params, "text", "entities")
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > 4096:
                raise ApiError(400, "Bad Request: message is too long")
            message["text"] = text
            _put(message, "entities", entities)
        else:
            kind = _MEDIA[method]
            message[kind] = self._media_object(kind, params.get(kind))
            caption, entities = self._formatted(params, "caption", "caption_entities")
            if caption:
                if len(caption) > 1024:
                    raise ApiError(400, "Bad Request: message caption is too long")
                message["caption"] = caption
            _put(message, "caption_entities", entities)
        if "allow_paid_broadcast" in params:
            message["_allow_paid_broadcast"] = params["allow_paid_broadcast"]
        if params.get("protect_content") is True:
            message["has_protected_content"] = True
        if params.get("disable_notification") is True:
            message["_silent"] = True  # not in Telegram's answer: the recipient's phone stays quiet
        if method == "sendMessage":
            _copy(params, message, "link_preview_options")
        _copy(params, message, "reply_markup")
        if self.keep_messages:
            self.chats[chat_id].append(message)
        return message

    def _media_object(self, kind: str, value: Any) -> Any:
        file_id = value if isinstance(value, str) and value else f"FILE{next(self._file_ids)}"
        base: JSON = {"file_id": file_id, "file_unique_id": f"U{file_id}"}
        if isinstance(value, Upload):
            self.files[file_id] = value.content
            return {**base, "file_name": value.filename, "file_size": len(value.content)}
        if kind == "photo":
            return [{**base, "width": 800, "height": 600}]
        if kind in ("video", "animation"):
            return {**base, "width": 640, "height": 480, "duration": 3}
        if kind in ("audio", "voice"):
            return {**base, "duration": 3}
        return {**base, "file_name": "file.bin"}

    def _formatted(
        self, params: JSON, text_key: str, entities_key: str
    ) -> tuple[str, list[JSON] | None]:
        """`_formatted`, noting text that shows HTML escapes a person never typed."""
        text, entities = _formatted(params, text_key, entities_key)
        shown = set(_ESCAPES.findall(text))
        if shown:
            typed = " ".join(self._typed)
            for escape in sorted(shown):
                if escape not in typed:
                    self.problems.append(f"{escape} shown as text in {text[:80]!r}")
        return text, entities

    def _existing(self, params: JSON, doing: str = "edit") -> JSON:
        """The message a call acts on, with Telegram's errors: the person blocked the bot, or
        the message is not there (deleted by them, or never was)."""
        chat_id = self._check_chat(_int_or_none(params.get("chat_id")))
        message_id = _int_or_none(params.get("message_id"))
        message = None
        if message_id is not None:
            message = self.find_message(chat_id, message_id)
        if message is None:
            raise ApiError(400, f"Bad Request: message to {doing} not found")
        return message

    def _deletable(self, message: JSON) -> bool:
        """Telegram's rule for a bot in a private chat: its own messages for 48 hours."""
        return time.time() - int(message["date"]) < DELETE_WINDOW

    def _delete(self, message: JSON) -> None:
        if not self._deletable(message):
            raise ApiError(400, "Bad Request: message can't be deleted for everyone")
        chat_id = message["chat"]["id"]
        self.chats[chat_id].remove(message)
        if message["message_id"] in self.pinned[chat_id]:
            self.pinned[chat_id].remove(message["message_id"])
        self.deleted[chat_id].append(message["message_id"])

    def _edit(self, method: str, params: JSON) -> JSON:
        message = self._existing(params)
        _check_markup(params)
        before = json.dumps(message, sort_keys=True)
        shown = [*message.get("_shown", [message.get("text", "")])]
        if method == "editMessageText":
            text, entities = self._formatted(params, "text", "entities")
            if not text.strip():
                raise ApiError(400, "Bad Request: message text is empty")
            if len(text) > 4096:
                raise ApiError(400, "Bad Request: MESSAGE_TOO_LONG")
            message["text"] = text
            message.pop("entities", None)
            _put(message, "entities", entities)
            message.pop("link_preview_options", None)
            _copy(params, message, "link_preview_options")
        elif method == "editMessageCaption":
            self._caption(message, params)
        elif method == "editMessageMedia":
            self._replace_media(message, params)
        message.pop("reply_markup", None)
        _copy(params, message, "reply_markup")
        if json.dumps(message, sort_keys=True) == before:
            raise ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and reply "
                "markup are exactly the same as a current content and reply markup of the message",
            )
        message["edit_date"] = int(time.time())
        message["_edits"] = message.get("_edits", 0) + 1  # not Telegram's: edits applied
        message["_shown"] = [*shown, message.get("text", "")]  # nor this: each text it had
        return message

    def _copy_message(self, params: JSON) -> JSON:
        """Telegram's copyMessage: the content of a message, sent anew by the bot."""
        source_chat = _int_or_none(params.get("from_chat_id"))
        source_id = _int_or_none(params.get("message_id"))
        source = None
        if source_chat is not None and source_id is not None:
            source = self.find_message(source_chat, source_id)
        if source is None:
            raise ApiError(400, "Bad Request: message to copy not found")
        chat_id = self._check_chat(_int_or_none(params.get("chat_id")))
        _check_markup(params)
        copy: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": self.bot_user,
            "chat": self._chat(chat_id),
            "date": int(time.time()),
        }
        for key in ("text", "entities", "caption", "caption_entities", *_MEDIA.values()):
            if key in source:
                copy[key] = source[key]
        if "text" not in copy and not any(kind in copy for kind in _MEDIA.values()):
            raise ApiError(400, "Bad Request: the message can't be copied")
        reply = params.get("reply_parameters") or {}
        reply_id = _int_or_none(params.get("reply_to_message_id") or reply.get("message_id"))
        if reply_id is not None:
            replied = self.find_message(chat_id, reply_id)
            if replied is None:
                raise ApiError(400, "Bad Request: message to be replied not found")
            copy["reply_to_message"] = replied
        _copy(params, copy, "reply_markup")
        self.chats[chat_id].append(copy)
        return {"message_id": copy["message_id"]}

    def _caption(self, message: JSON, params: JSON) -> None:
        if not any(kind in message for kind in _MEDIA.values()):
            raise ApiError(400, "Bad Request: there is no caption in the message to edit")
        caption, entities = self._formatted(params, "caption", "caption_entities")
        if len(caption) > 1024:
            raise ApiError(400, "Bad Request: message caption is too long")
        message.pop("caption", None)
        message.pop("caption_entities", None)
        if caption:
            message["caption"] = caption
        _put(message, "caption_entities", entities)

    def _replace_media(self, message: JSON, params: JSON) -> None:
        media = params.get("media")
        media = json.loads(media) if isinstance(media, str) else media
        if not isinstance(media, dict) or media.get("type") not in _EDITABLE_MEDIA:
            raise ApiError(400, "Bad Request: can't parse InputMedia: media type is invalid")
        old = next((kind for kind in _MEDIA.values() if kind in message), None)
        if old is None or old == "voice":
            raise ApiError(400, "Bad Request: there is no media in the message to edit")
        del message[old]
        kind = media["type"]
        message[kind] = self._media_object(kind, media.get("media"))
        self._caption(message, media)


def _kicked_extra(status: str) -> JSON:
    return {"until_date": 0} if status == "kicked" else {}


def _decode(raw: dict[str, str]) -> JSON:
    params: JSON = {}
    for key, value in raw.items():
        if key in _JSON_FIELDS and isinstance(value, str):
            params[key] = json.loads(value)
        else:
            params[key] = value
    return params


def _int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _formatted(params: JSON, text_key: str, entities_key: str) -> tuple[str, list[JSON] | None]:
    """Text and entities as Telegram stores them, applying the HTML parse mode if asked."""
    text = str(params.get(text_key, "") or "")
    if params.get("parse_mode") == "HTML":
        try:
            return parse_html(text)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None
    return text, params.get(entities_key)


_ESCAPES = re.compile(r"&(?:lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def _put(target: JSON, key: str, value: Any) -> None:
    if value:
        target[key] = value


def _copy(source: JSON, target: JSON, key: str) -> None:
    if source.get(key):
        target[key] = source[key]


def _check_markup(params: JSON) -> None:
    """Telegram refuses buttons with callback data over 64 bytes or a label it cannot show."""
    for row in (params.get("reply_markup") or {}).get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if not str(button.get("text", "")).strip():
                raise ApiError(
                    400, "Bad Request: text buttons are unallowed in the inline keyboard"
                )


def _scope_key(scope: JSON | None) -> str:
    if not scope or scope.get("type") == "default":
        return "default"
    if scope.get("type") == "chat":
        return f"chat:{int(scope['chat_id'])}"
    return str(scope.get("type"))
