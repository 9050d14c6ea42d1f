"""/audit: the latest admin actions, paged, for everyone or one admin."""

from __future__ import annotations

import math

from telegram import InlineKeyboardMarkup, Update

from bot import keyboards
from bot.callbacks import AuditCb
from bot.context import HeraldContext
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.texts.render import html
from bot.views import person_name
from db.repo import admins, audit, users

PER_PAGE = 10


async def render(
    context: HeraldContext, admin_id: int, data: AuditCb
) -> tuple[str, InlineKeyboardMarkup]:
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    actor = data.actor or None
    async with context.services.sessions() as session:
        entries, total = await audit.page(session, actor, PER_PAGE, data.page * PER_PAGE)
        people = await users.names(session, sorted({e.actor_id for e in entries}))
        names = {**people, **await admins.names(session)}
    who = person_name(names, actor, texts) if actor else texts.filter_all
    lines = [html(texts.audit_title, who=who, count=total)]
    if not entries:
        lines.append(html(texts.audit_empty))
    for entry in entries:
        action = texts.action_names.get(entry.action, entry.action)
        lines.append(
            html(
                texts.audit_entry,
                when=display.local_time(entry.created_at, zone, texts),
                who=person_name(names, entry.actor_id, texts),
                action=action,
                target=f": {entry.target}" if entry.target else "",
            )
        )
    pages = max(1, math.ceil(total / PER_PAGE))
    admin_list = sorted(context.services.admin_ids)
    labels = {a: person_name(names, a, texts) for a in admin_list}
    return "\n".join(lines), keyboards.audit(texts, data, pages, labels)


async def audit_command(update: Update, context: HeraldContext) -> None:
    """Receives /audit or the menu button; shows the latest actions of every admin."""
    user, chat = update.effective_user, update.effective_chat
    assert user is not None and chat is not None
    if update.callback_query is not None:
        await update.callback_query.answer()
    text, markup = await render(context, user.id, AuditCb())
    await chat.send_message(text, reply_markup=markup)


async def audit_tap(update: Update, context: HeraldContext) -> None:
    """Receives a page or admin filter button."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    await query.answer()
    text, markup = await render(context, user.id, AuditCb.unpack(query.data))
    await redraw(query, text, markup)
