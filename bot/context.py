"""What every handler can reach: the config, the text catalog, the database and the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from telegram.ext import Application, CallbackContext, ExtBot, JobQueue

from bot.compose import UserData
from bot.config import Config
from bot.delivery.broadcaster import Broadcaster
from bot.scheduling.dispatcher import Dispatcher
from bot.texts import Texts


@dataclass
class Services:
    """Long-lived collaborators, built once per application and shared by every handler."""

    config: Config
    texts: Texts
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    clock: Callable[[], datetime]
    admin_ids: frozenset[int]
    broadcaster: Broadcaster
    dispatcher: Dispatcher
    sweep_interval: float = 30.0
    conversation_timeout: float = 30 * 60
    commands_set_for: set[int] = field(default_factory=set)
    last_error_notice: float | None = None

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids


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
        return self.bot_data.services.texts


HeraldApp = Application[
    ExtBot[None],
    HeraldContext,
    UserData,
    dict[object, object],
    BotData,
    JobQueue[HeraldContext],
]
