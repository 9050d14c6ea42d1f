"""Logging set-up that keeps the bot token out of every log record."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

_MASK = "<token>"


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
        if token in message:
            record.msg = message.replace(token, _MASK)
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = text.replace(token, _MASK)
        return record

    factory.herald_token = token  # type: ignore[attr-defined]
    logging.setLogRecordFactory(factory)


def configure_logging(token: str, level: int = logging.INFO) -> None:
    """Plain console logging; httpx request lines are kept at WARNING since they carry the URL."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    install_token_redaction(token)
