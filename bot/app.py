"""Application factory: wires config, database and every handler, in order, in one place."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Callable
from datetime import UTC, datetime

from telegram import LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.ext import (
    ApplicationBuilder,
    ContextTypes,
    Defaults,
    TypeHandler,
)
from telegram.request import BaseRequest

from bot import commands
from bot.access import admin_gate, once_only, touch_contact
from bot.compose import UserData
from bot.config import Config
from bot.context import BotData, HeraldApp, HeraldContext, Services
from bot.delivery.broadcaster import Broadcaster
from bot.delivery.policy import Policy
from bot.handlers import (
    audit,
    compose,
    delivery,
    errors,
    everyone,
    history,
    imports,
    inbox,
    language,
    membership,
    menu,
    people,
    queue,
    reschedule,
    series,
    start,
    stats,
    stream_edit,
    streams,
    timezone,
)
from bot.inbox import Flood
from bot.languages import Languages
from bot.logs import install_token_redaction
from bot.people.importer import QUIET as IMPORT_QUIET
from bot.people.importer import recover as recover_imports
from bot.scheduling.dispatcher import Dispatcher
from bot.texts import catalog
from db import engine as db_engine
from db.migrate import upgrade_to_head
from db.repo import admins as admins_repo
from db.repo import streams as stream_repo
from db.repo import updates

ALLOWED_UPDATES = [Update.MESSAGE, Update.CALLBACK_QUERY, Update.MY_CHAT_MEMBER]
MESSAGE_DEFAULTS = Defaults(
    parse_mode=ParseMode.HTML, link_preview_options=LinkPreviewOptions(is_disabled=True)
)
"""Herald's own messages are HTML (see bot.texts.render) and show no link previews.

Broadcasts are sent through `make_sender`, which these defaults do not reach.
"""

GROUP_ONCE = -7
GROUP_TOUCH = -6
GROUP_GATE = -5
GROUP_LOST = -4  # an admin's first update after a start: was a draft lost with the last process?
GROUP_REPLIES = -3  # a reply to a student (Telegram's own, or after Reply) comes first
GROUP_PROMPTS = -2  # a series' new text, asked for in /scheduled
GROUP_MODES = -1  # after the gate: modes an admin opened (a /users search) see typed text first


def _now() -> datetime:
    return datetime.now(UTC)


def process_name() -> str:
    """Who holds a lease: this host and process, told apart from a restart with the same pid."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(3)}"


def build_application(
    config: Config,
    *,
    request: BaseRequest | None = None,
    clock: Callable[[], datetime] = _now,
    conversation_timeout: float = 30 * 60,
    progress_interval: float = 2.5,
    policy: Policy | None = None,
    sweep_interval: float = 30.0,
    busy_timeout: float = db_engine.BUSY_TIMEOUT,
) -> HeraldApp:
    """Build the bot; `request` lets tests and benchmarks route the Bot API to an emulator,
    and the other keywords shorten its waits for tests."""
    install_token_redaction(config.token)
    builder = (
        ApplicationBuilder()
        .token(config.token)
        .base_url(config.telegram.base_url)
        .base_file_url(config.telegram.base_file_url)
        .context_types(ContextTypes(context=HeraldContext, bot_data=BotData, user_data=UserData))
        .defaults(MESSAGE_DEFAULTS)
        .post_init(_post_init)
        .post_stop(_post_stop)
        .post_shutdown(_post_shutdown)
    )
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app: HeraldApp = builder.build()  # type: ignore[assignment]
    engine = db_engine.create_engine(config.database.url, busy_timeout)
    sessions = db_engine.session_factory(engine)
    texts = catalog(config.bot.language)
    languages = Languages(config.bot.language)
    admin_ids = frozenset(config.bot.admins)
    owner = process_name()
    broadcaster = Broadcaster(
        app.bot,
        sessions,
        languages.texts_for,
        config.delivery,
        clock,
        progress_interval,
        policy or Policy(config.delivery.concurrency, lease=config.database.lease_seconds),
        owner,
    )
    assert app.job_queue is not None, "python-telegram-bot[job-queue] is required"
    app.bot_data.services = Services(
        config=config,
        texts=texts,
        languages=languages,
        engine=engine,
        sessions=sessions,
        clock=clock,
        admin_ids=admin_ids,
        broadcaster=broadcaster,
        dispatcher=Dispatcher(
            app.job_queue,
            app.bot,
            sessions,
            broadcaster,
            languages.texts_for,
            clock,
            config.scheduling.max_lateness,
            config.bot.timezone,
            admin_ids,
        ),
        owner=owner,
        sweep_interval=sweep_interval,
        conversation_timeout=conversation_timeout,
        flood=Flood(config.bot.reply_flood_per_minute),
    )
    app.bot_data.services.report_error = lambda error: app.process_error(None, error)
    _register(app, conversation_timeout)
    return app


def _register(app: HeraldApp, conversation_timeout: float) -> None:
    admin_ids = sorted(app.bot_data.services.admin_ids)
    app.add_handler(TypeHandler(Update, once_only), group=GROUP_ONCE)
    app.add_handler(TypeHandler(Update, touch_contact), group=GROUP_TOUCH)
    app.add_handler(TypeHandler(Update, admin_gate), group=GROUP_GATE)
    app.add_handler(TypeHandler(Update, compose.lost_draft), group=GROUP_LOST)
    app.add_handler(TypeHandler(Update, inbox.replies_first), group=GROUP_REPLIES)
    app.add_handler(TypeHandler(Update, series.text_prompt), group=GROUP_PROMPTS)
    app.add_handler(TypeHandler(Update, people.search_mode), group=GROUP_MODES)
    app.add_handlers(
        [
            *delivery.handlers(),
            *queue.handlers(),
            # The conversations see every command while they are open (to ask first),
            # so they come before the plain commands.
            *stream_edit.handlers(conversation_timeout),
            *reschedule.handlers(conversation_timeout),
            *everyone.handlers(conversation_timeout),
            *inbox.handlers(),
            *series.handlers(),
            *compose.handlers(conversation_timeout),
            *start.handlers(),
            *streams.handlers(),
            *timezone.handlers(),
            *language.handlers(),
            *history.handlers(),
            *stats.handlers(),
            *people.handlers(),
            *imports.handlers(admin_ids),
            *audit.handlers(),
            *membership.handlers(),
            # Catch-alls last: menu taps no section took, stale buttons, any other message.
            *menu.handlers(),
            *start.last_handlers(),
        ]
    )
    app.add_error_handler(errors.on_error)


async def _post_init(app: HeraldApp) -> None:
    """Migrate the database, create configured streams and publish the command lists."""
    services = app.bot_data.services
    await upgrade_to_head(services.engine)
    await recover_imports(services.sessions, services.clock())
    async with services.sessions.begin() as session:
        await stream_repo.ensure(
            session, [(stream.code, stream.title) for stream in services.config.streams]
        )
        services.languages.load(*await admins_repo.languages(session))
    await commands.set_default_commands(app.bot, services.texts)
    for admin_id in sorted(services.admin_ids):
        texts = services.languages.texts_for(admin_id)
        if await commands.set_admin_commands(app.bot, texts, admin_id):
            services.commands_language[admin_id] = texts.language
    await services.broadcaster.resume_orphans()
    await services.dispatcher.restore()
    services.dispatcher.start_sweep(services.sweep_interval)
    assert app.job_queue is not None
    app.job_queue.run_repeating(
        _resume_orphans,
        interval=services.broadcaster.lease / 2,
        first=services.broadcaster.lease / 2,
        name="resume deliveries",
    )
    app.job_queue.run_repeating(
        _housekeeping, interval=IMPORT_QUIET, first=IMPORT_QUIET, name="housekeeping"
    )


async def _resume_orphans(context: HeraldContext) -> None:
    """Continue deliveries left by a process that died, once their lease has run out."""
    await context.services.broadcaster.resume_orphans()


async def _housekeeping(context: HeraldContext) -> None:
    """Take back imports whose process died (a command-line import), forget old update ids."""
    services = context.services
    await recover_imports(services.sessions, services.clock())
    async with services.sessions.begin() as session:
        await updates.forget_before(session, services.clock() - updates.REMEMBERED)


async def _post_stop(app: HeraldApp) -> None:
    services = app.bot_data.services
    await services.stop_background(grace=10.0)
    await services.broadcaster.shutdown()


async def _post_shutdown(app: HeraldApp) -> None:
    await app.bot_data.services.engine.dispose()
