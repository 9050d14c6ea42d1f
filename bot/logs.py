"""Logging set-up, and the guard that keeps the bot token out of everything the process prints."""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO
from urllib.parse import quote

MASK = "<token>"


def _secrets(token: str) -> tuple[str, ...]:
    """The token as it may appear: plain, and URL-encoded (its ':' as %3A)."""
    return tuple(dict.fromkeys(s for s in (token, quote(token, safe="")) if s))


def redact(text: str, token: str) -> str:
    for secret in _secrets(token):
        text = text.replace(secret, MASK)
    return text


def install_token_redaction(token: str) -> None:
    """Rewrite each new log record so neither its message nor its traceback shows the token."""
    if not token:
        return
    previous: Callable[..., logging.LogRecord] = logging.getLogRecordFactory()
    if getattr(previous, "herald_token", None) == token:
        return

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = previous(*args, **kwargs)
        message = record.getMessage()
        cleaned = redact(message, token)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text, token)
        return record

    factory.herald_token = token  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


class RedactingStream:
    """A text stream that writes through to another one with the token masked."""

    def __init__(self, stream: TextIO, token: str) -> None:
        self._stream = stream
        self._token = token

    def write(self, text: str) -> int:
        self._stream.write(redact(text, self._token))
        return len(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def protect_output(token: str) -> None:
    """Mask the token on every path that prints: logs, stdout and stderr, uncaught exceptions
    (main thread and others) and warnings, which all end in the streams guarded here."""
    if not token:
        return
    install_token_redaction(token)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, RedactingStream):
            setattr(sys, name, RedactingStream(stream, token))

    def excepthook(
        kind: type[BaseException], value: BaseException, tb: TracebackType | None
    ) -> None:
        text = "".join(traceback.format_exception(kind, value, tb))
        sys.stderr.write(redact(text, token))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            excepthook(args.exc_type, args.exc_value, args.exc_traceback)

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def configure_logging(token: str, level: int = logging.INFO) -> None:
    """Plain console logging; httpx request lines are kept at WARNING since they carry the URL."""
    protect_output(token)
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.captureWarnings(True)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
