"""Runs the bot process: reach Telegram through any blip, poll, and stop cleanly on a signal.

PTB's `run_polling` gives up at start-up on the first network error; a course bot must instead
wait for Telegram as long as it takes, and stop only when the token itself is rejected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from telegram.error import InvalidToken, RetryAfter, TelegramError

from bot.context import HeraldApp
from bot.delivery.engine import retry_seconds
from bot.leadership import Leadership
from db.migrate import upgrade_to_head

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 30.0


class TokenRejected(Exception):
    """Telegram answered getMe with 401 or 404: the token is wrong or revoked."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def retrying(what: str, action: Callable[[], Awaitable[None]], stop: asyncio.Event) -> bool:
    """Run `action` until it succeeds, waiting longer after each failure; False if stopped.

    Network errors, timeouts, 5xx and 429 are passing troubles and are logged as warnings; a
    rejected token is not and raises TokenRejected.
    """
    delay = FIRST_DELAY
    while not stop.is_set():
        try:
            await action()
            return True
        except InvalidToken as exc:
            cause = exc.__cause__
            raise TokenRejected(cause.message if isinstance(cause, TelegramError) else "") from None
        except RetryAfter as exc:
            wait = retry_seconds(exc)
            log.warning("%s: Telegram asks to wait %.0f s", what, wait)
        except TelegramError as exc:
            wait = delay
            delay = min(delay * 2, MAX_DELAY)
            log.warning("%s failed (%s); trying again in %.1f s", what, exc.message, wait)
        try:
            await asyncio.wait_for(stop.wait(), wait)
        except TimeoutError:
            continue
    return False


def _polling_error(exc: TelegramError) -> None:
    log.warning("polling Telegram failed (%s); PTB retries by itself", exc.message)


def _loop_error(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """asyncio's own error reports go through logging, where the token is masked."""
    error = context.get("exception")
    log.error("asyncio: %s", context.get("message", "error"), exc_info=error)


LOST_ROLE = 3
"""Exit code when another process took over: a supervisor restarts this one as a standby."""


async def serve(app: HeraldApp, allowed_updates: list[str]) -> int:
    """Start the application as `run_polling` does, but survive Telegram and database blips,
    and only once this process is the active one; run until a SIGINT or SIGTERM, or until the
    active role is lost, then stop in order. Returns the exit code."""
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_loop_error)
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    assert app.updater is not None and app.post_init is not None
    services = app.bot_data.services
    leadership = Leadership(
        services.sessions, services.owner, services.clock, services.broadcaster.lease
    )
    keeper: asyncio.Task[None] | None = None
    try:
        if not await retrying("connecting to Telegram", app.initialize, stop):
            return 0
        if not await _retrying_db(
            "preparing the database", lambda: upgrade_to_head(services.engine), stop
        ):
            return 0
        if not await leadership.acquire(stop):
            return 0
        await app.post_init(app)
        await app.updater.start_polling(
            allowed_updates=allowed_updates, bootstrap_retries=-1, error_callback=_polling_error
        )
        await app.start()
        log.info("Herald is running as @%s", app.bot.username)
        keeper = asyncio.create_task(leadership.keep())
        stopped = asyncio.create_task(stop.wait())
        await asyncio.wait([keeper, stopped], return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        if keeper.done():
            log.error("stopping: another process is the active one now")
            return LOST_ROLE
        return 0
    finally:
        lost = keeper is not None and keeper.done() and not keeper.cancelled()
        if keeper is not None:
            keeper.cancel()
        await _stop(app)
        if not lost:
            await leadership.release()
        if app.post_shutdown is not None:
            await app.post_shutdown(app)


async def _retrying_db(
    what: str, action: Callable[[], Awaitable[None]], stop: asyncio.Event
) -> bool:
    """Like `retrying`, for the database: it may be starting up or failing over."""
    delay = FIRST_DELAY
    while not stop.is_set():
        try:
            await action()
            return True
        except (SQLAlchemyError, OSError) as exc:
            log.warning("%s failed (%s); trying again in %.1f s", what, exc, delay)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), delay)
        delay = min(delay * 2, MAX_DELAY)
    return False


async def _stop(app: HeraldApp) -> None:
    """Stop in the order run_polling does: polling, handlers, then the post_stop hook."""
    assert app.updater is not None
    if app.updater.running:
        await app.updater.stop()
    if app.running:
        await app.stop()
        if app.post_stop is not None:
            await app.post_stop(app)
    await app.shutdown()
