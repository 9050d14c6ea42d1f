"""What every handler can reach: the config, the text catalog, the database and the clock."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram import Update
from telegram.ext import Application, BaseHandler, CallbackContext, ExtBot, JobQueue

from bot.compose import UserData
from bot.config import Config
from bot.delivery.broadcaster import Broadcaster
from bot.inbox import Flood
from bot.languages import Languages
from bot.scheduling.dispatcher import Dispatcher
from bot.texts import Texts


@dataclass
class Services:
    """Long-lived collaborators, built once per application and shared by every handler."""

    config: Config
    texts: Texts  # the configured language: students, and admins until Herald knows theirs
    languages: Languages
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    admin_ids: frozenset[int]
    broadcaster: Broadcaster
    dispatcher: Dispatcher
    owner: str = "herald"
    sweep_interval: float = 30.0
    conversation_timeout: float = 30 * 60
    commands_language: dict[int, str] = field(default_factory=dict)  # published, per admin chat
    last_error_notice: float | None = None
    report_error: Callable[[Exception], Awaitable[object]] | None = None
    background: set[asyncio.Task[None]] = field(default_factory=set)
    flood: Flood = field(default_factory=lambda: Flood(20))  # students' messages to the team

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> asyncio.Task[None]:
        """Run long work (an import) beside update handling, which PTB does one at a time.

        A failure goes to the error handler like a handler's would; shutdown cancels the work.
        """
        task = asyncio.create_task(self._guarded(work), name=name)
        self.background.add(task)
        task.add_done_callback(self.background.discard)
        return task

    async def _guarded(self, work: Coroutine[Any, Any, None]) -> None:
        try:
            await work
        except Exception as exc:
            if self.report_error is None:
                raise
            await self.report_error(exc)

    async def stop_background(self, grace: float) -> None:
        """Cancel background work and give it `grace` seconds to tidy up (undo an import)."""
        tasks = list(self.background)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=grace)


class BotData:
    """Typed `bot_data`: PTB creates it empty and the application factory fills `services`."""

    services: Services


class HeraldContext(CallbackContext[ExtBot[None], UserData, dict[object, object], BotData]):
    """Callback context with typed access to the services."""

    @property
    def services(self) -> Services:
        return self.bot_data.services

    @property
    def texts(self) -> Texts:
        """The catalog of whoever this update is from (an admin's own language)."""
        chosen = self.user_data.texts if self.user_data is not None else None
        return chosen or self.bot_data.services.texts


HeraldApp = Application[
    ExtBot[None],
    HeraldContext,
    UserData,
    dict[object, object],
    BotData,
    JobQueue[HeraldContext],
]

Handlers = list[BaseHandler[Update, HeraldContext, Any]]
"""What each handler module registers (its `handlers()`); bot.app puts them in order."""
