"""/timezone: show the admin's time zone, or set their own."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot import commands
from bot.context import Handlers, HeraldContext
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.scheduling.zones import find_zone, zones_named
from bot.texts.render import echo, html
from db.models import AuditAction
from db.repo import admins, audit
from db.repo.audit import Target


async def timezone_command(update: Update, context: HeraldContext) -> None:
    """Receives /timezone [Area/City or City]; shows the zone or stores a new one."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    texts = context.texts
    services = context.services
    now = services.clock()
    if not context.args:
        zone = await admin_zone(context, user.id)
        await message.reply_text(
            html(texts.tz_show, zone=zone, now=display.clock(now, zone, texts)),
        )
        return
    wanted = " ".join(context.args)
    match = find_zone(wanted)
    if match is None:
        choice = zones_named(wanted)
        if choice:
            await message.reply_text(
                html(texts.tz_ambiguous, zone=echo(wanted), zones=", ".join(choice))
            )
            return
        await message.reply_text(html(texts.tz_unknown, zone=echo(wanted)))
        return
    async with services.sessions.begin() as session:
        await admins.set_zone(session, user.id, match, now)
        await audit.record(session, user.id, AuditAction.TIMEZONE, now, target=Target(zone=match))
    await message.reply_text(
        html(texts.tz_set, zone=match, now=display.clock(now, match, texts)),
    )


def handlers() -> Handlers:
    return [CommandHandler(commands.TIMEZONE, timezone_command)]
