"""CSV import in the chat: a dry run, then Apply or Cancel; both run in the background.

Checking a million rows takes seconds and applying them minutes, and PTB handles one update at
a time, so the handlers only start the work and answer; the work edits its own message when
done and every other command keeps answering meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection

from sqlalchemy.exc import SQLAlchemyError
from telegram import InlineKeyboardMarkup, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import CallbackQueryHandler, MessageHandler, filters

from bot import keyboards
from bot.callbacks import ImportAction, ImportCb
from bot.compose import PendingImport
from bot.context import Handlers, HeraldContext, Services
from bot.handlers.screens import redraw
from bot.parsing.people_csv import FileError, ParsedFile, parse_people_csv
from bot.people.importer import Busy, apply_import, plan_import, report
from bot.texts.render import echo, html
from db.repo.imports import TakenBack

log = logging.getLogger(__name__)

CSV_TYPES = {"text/csv", "text/comma-separated-values", "application/csv", "text/plain"}


def _is_csv(message: Message) -> bool:
    document = message.document
    if document is None:
        return False
    name = (document.file_name or "").lower()
    return name.endswith(".csv") or (document.mime_type or "") in CSV_TYPES


async def import_document(update: Update, context: HeraldContext) -> None:
    """Receives a document outside a draft; a CSV is checked in the background."""
    message = update.effective_message
    assert message is not None and context.user_data is not None
    texts = context.texts
    if not _is_csv(message) or message.document is None:
        await message.reply_text(texts.import_not_csv)
        return
    status = await message.reply_text(texts.import_checking)
    context.services.spawn(_check(context, message, status), "import check")


async def _check(context: HeraldContext, message: Message, status: Message) -> None:
    texts = context.texts
    assert message.document is not None and context.user_data is not None
    try:
        file = await message.document.get_file()
        data = bytes(await file.download_as_bytearray())
        parsed = await asyncio.to_thread(parse_people_csv, data)
    except FileError as error:
        problem = texts.import_file_problems[error.problem.value]
        await _show(status, html(problem, detail=error.detail))
        return
    except TelegramError as exc:
        await _show(status, html(texts.import_download_failed, reason=echo(exc.message, 200)))
        return
    async with context.services.sessions() as session:
        plan = await plan_import(session, parsed)
    pending = PendingImport(parsed)
    context.user_data.pending_import = pending
    await _show(
        status,
        report(texts, plan),
        keyboards.import_choice(texts, pending.token, plan.ready),
    )


async def _show(status: Message, text: str, markup: InlineKeyboardMarkup | None = None) -> None:
    """Put the outcome in the import's message, or in a new one if that one is gone."""
    try:
        await status.edit_text(text, reply_markup=markup)
    except BadRequest as exc:
        if "not modified" in exc.message.lower():
            return
        await status.chat.send_message(text, reply_markup=markup)


async def import_tap(update: Update, context: HeraldContext) -> None:
    """Receives Apply or Cancel for the latest dry run; Apply runs in the background."""
    query, user = update.callback_query, update.effective_user
    assert query is not None and query.data is not None and user is not None
    assert context.user_data is not None
    texts = context.texts
    data = ImportCb.unpack(query.data)
    pending = context.user_data.pending_import
    if pending is None or pending.token != data.token:
        await query.answer(texts.menu_expired, show_alert=True)
        return
    context.user_data.pending_import = None
    await query.answer()
    if data.action is ImportAction.CANCEL:
        await redraw(query, texts.import_cancelled, None)
        return
    message = query.message
    assert isinstance(message, Message)
    await redraw(query, html(texts.import_applying, rows=len(pending.parsed.rows)), None)
    context.services.spawn(
        _apply(context.services, message, pending.parsed, user.id), "import apply"
    )


async def _apply(services: Services, status: Message, parsed: ParsedFile, actor_id: int) -> None:
    """Re-check the file against the database as it is now, then apply it all or nothing."""
    texts = services.languages.texts_for(actor_id)
    async with services.sessions() as session:
        plan = await plan_import(session, parsed)
    if not plan.ready:
        await _show(status, report(texts, plan))
        return
    try:
        applied = await apply_import(services.sessions, plan, services.clock, actor_id)
    except Busy:
        await _show(status, texts.import_busy)
        return
    except (SQLAlchemyError, TakenBack) as exc:
        log.warning("import by %s was not applied: %s", actor_id, exc)
        reason = echo(str(getattr(exc, "orig", None) or exc), 200)
        await _show(status, html(texts.import_failed, reason=reason))
        return
    await _show(status, html(texts.import_done, new=applied.new, updated=applied.updated))


def handlers(admin_ids: Collection[int]) -> Handlers:
    """A document from an admin is an import file; anyone else's goes on to the catch-all."""
    return [
        CallbackQueryHandler(import_tap, pattern=ImportCb.matches()),
        MessageHandler(filters.Document.ALL & filters.User(user_id=admin_ids), import_document),
    ]
