"""/audit: the latest admin actions, paged, for everyone or one admin."""

from __future__ import annotations

import math

from telegram import InlineKeyboardMarkup, Update
from telegram.ext import CallbackQueryHandler, CommandHandler

from bot import commands, keyboards
from bot.callbacks import AuditCb, MenuAction, MenuCb
from bot.context import Handlers, HeraldContext
from bot.handlers.screens import redraw
from bot.handlers.when import admin_zone
from bot.scheduling import display
from bot.texts.catalog import Texts
from bot.texts.render import html
from bot.views import first_words, person_name
from db.models import AuditLog, MessageHistory
from db.repo import admins, audit, messages, users
from db.repo.audit import Target

PER_PAGE = 10


async def render(
    context: HeraldContext, admin_id: int, data: AuditCb
) -> tuple[str, InlineKeyboardMarkup]:
    texts = context.texts
    zone = await admin_zone(context, admin_id)
    actor = data.actor or None
    async with context.services.sessions() as session:
        entries, total = await audit.page(
            session, actor, PER_PAGE, keyboards.page_start(data.page, PER_PAGE)
        )
        targets = {e.id: Target.of(e.details or {}) for e in entries}
        named = {e.actor_id for e in entries} | {t.user for t in targets.values() if t.user}
        people = await users.names(session, sorted(named))
        names = {**people, **await admins.names(session)}
        about = await messages.many(
            session, sorted({t.message for t in targets.values() if t.message})
        )
    who = person_name(names, actor, texts) if actor else texts.filter_all
    lines = [html(texts.audit_title, who=who, count=total)]
    if not entries:
        lines.append(html(texts.audit_empty))
    for entry in entries:
        target = describe(entry, targets[entry.id], texts, names, about)
        lines.append(
            html(
                texts.audit_entry,
                when=display.local_time(entry.created_at, zone, texts),
                who=person_name(names, entry.actor_id, texts),
                action=texts.action_names.get(entry.action, entry.action),
                target=f": {target}" if target else "",
            )
        )
    pages = max(1, math.ceil(total / PER_PAGE))
    admin_list = sorted(context.services.admin_ids)
    labels = {a: person_name(names, a, texts) for a in admin_list}
    return "\n".join(lines), keyboards.audit(texts, data, pages, labels)


def describe(
    entry: AuditLog,
    target: Target,
    texts: Texts,
    names: dict[int, str],
    about: dict[int, MessageHistory],
) -> str:
    """What an action was done to, in the reader's language: `#9 «first words»`, a person
    and their stream, a stream's title, a count of people, a time zone."""
    if target.message is not None and target.was is not None and target.now is not None:
        return texts.audit_edited.format(id=target.message, was=target.was, now=target.now)
    if target.message is not None:
        message = about.get(target.message)
        words = first_words(message, texts) if message is not None else ""
        if message is not None and message.parent_id is not None and message.action:
            # A stop, retry or resume of an edit/delete/pin run: name its broadcast and the run.
            named = texts.audit_message.format(id=message.parent_id, words=words)
            return f"{named} · {texts.everyone_names[message.action]}"
        return texts.audit_message.format(id=target.message, words=words)
    if target.user is not None:
        who = person_name(names, target.user, texts)
        return texts.audit_person.format(who=who, stream=target.stream or texts.pick_no_stream)
    if target.was is not None and target.stream is not None:
        return texts.audit_renamed.format(was=target.was, title=target.stream)
    if target.people is not None:
        return texts.plural(texts.people, target.people)
    if target.language is not None:
        return texts.language_names.get(target.language, texts.language_auto)
    return target.stream or target.zone or target.attempt or entry.target or ""


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


def handlers() -> Handlers:
    return [
        CommandHandler(commands.AUDIT, audit_command),
        CallbackQueryHandler(audit_command, pattern=MenuCb(MenuAction.AUDIT).pack()),
        CallbackQueryHandler(audit_tap, pattern=AuditCb.matches()),
    ]
