"""Application factory: wires config, database and every handler, in order, in one place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from telegram import Update
from telegram.ext import (
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import commands
from bot.access import admin_gate, touch_contact
from bot.callbacks import MenuCb
from bot.config import Config
from bot.context import BotData, HeraldApp, HeraldContext, Services
from bot.handlers import errors, membership, menu, start, streams
from bot.logs import install_token_redaction
from bot.texts import catalog
from db import engine as db_engine
from db.migrate import upgrade_to_head
from db.repo import streams as stream_repo

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]

GROUP_TOUCH = -2
GROUP_GATE = -1


def _now() -> datetime:
    return datetime.now(UTC)


def build_application(
    config: Config,
    *,
    request: BaseRequest | None = None,
    clock: Callable[[], datetime] = _now,
) -> HeraldApp:
    """Build the bot; `request` lets tests and benchmarks route the Bot API to an emulator."""
    install_token_redaction(config.token)
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(config.telegram.base_url)
        .base_file_url(config.telegram.base_file_url)
        .context_types(ContextTypes(context=HeraldContext, bot_data=BotData))
        .post_init(_post_init)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app: HeraldApp = builder.build()  # type: ignore[assignment]
    engine = db_engine.create_engine(config.database.url)
    app.bot_data.services = Services(
        config=config,
        texts=catalog(config.bot.language),
        engine=engine,
        sessions=db_engine.session_factory(engine),
        clock=clock,
        admin_ids=frozenset(config.bot.admins),
    )
    _register(app)
    return app


def _register(app: HeraldApp) -> None:
    app.add_handler(TypeHandler(Update, touch_contact), group=GROUP_TOUCH)
    app.add_handler(TypeHandler(Update, admin_gate), group=GROUP_GATE)
    app.add_handlers(
        [
            CommandHandler(commands.START, start.start),
            CommandHandler(commands.STREAMS, streams.streams_command),
            CallbackQueryHandler(menu.menu_button, pattern=MenuCb.matches()),
            ChatMemberHandler(membership.chat_member, ChatMemberHandler.MY_CHAT_MEMBER),
            CallbackQueryHandler(menu.stale_button),
            MessageHandler(filters.ChatType.PRIVATE, start.other_message),
        ]
    )
    app.add_error_handler(errors.on_error)


async def _post_init(app: HeraldApp) -> None:
    """Migrate the database, create configured streams and publish the command lists."""
    services = app.bot_data.services
    await upgrade_to_head(services.engine)
    async with services.sessions.begin() as session:
        await stream_repo.ensure(
            session, [(stream.code, stream.title) for stream in services.config.streams]
        )
    await commands.set_default_commands(app.bot, services.texts)
    for admin_id in sorted(services.admin_ids):
        if await commands.set_admin_commands(app.bot, services.texts, admin_id):
            services.commands_set_for.add(admin_id)


async def _post_shutdown(app: HeraldApp) -> None:
    await app.bot_data.services.engine.dispose()
