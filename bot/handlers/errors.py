"""The error handler: log with traceback, tell the admins briefly, keep running."""

from __future__ import annotations

import logging
import time

from telegram.error import TelegramError

from bot.context import HeraldContext

log = logging.getLogger(__name__)

NOTICE_INTERVAL = 60.0


async def on_error(update: object, context: HeraldContext) -> None:
    """Receives a handler's exception; logs it and tells admins, at most once a minute."""
    log.error("error while handling an update", exc_info=context.error)
    services = context.services
    now = time.monotonic()
    if (
        services.last_error_notice is not None
        and now - services.last_error_notice < NOTICE_INTERVAL
    ):
        return
    services.last_error_notice = now
    for admin_id in sorted(services.admin_ids):
        try:
            notice = services.languages.texts_for(admin_id).error_notice
            await context.bot.send_message(admin_id, notice)
        except TelegramError as exc:
            log.warning("could not notify admin %s of an error: %s", admin_id, exc)
