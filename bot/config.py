"""Typed configuration loaded from TOML and validated before the bot touches the network."""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from bot.scheduling.timeparse import parse_duration
from bot.scheduling.zones import is_zone

TOKEN_ENV = "HERALD_BOT_TOKEN"
_TOKEN_RE = re.compile(r"^\d+:[A-Za-z0-9_-]+$")
_STREAM_CODE_RE = re.compile(r"^[a-z0-9_]{1,32}$")


class ConfigError(Exception):
    """One line that names the key at fault and says what to write instead."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TelegramConfig(_Section):
    token: SecretStr = SecretStr("")
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"


class BotConfig(_Section):
    admins: tuple[Annotated[StrictInt, Field(gt=0)], ...] = Field(min_length=1)
    language: Literal["en", "ru"] = "ru"
    timezone: str = "Europe/Moscow"
    welcome_text: str = ""
    replies: Literal["off", "forward"] = "off"
    reply_admins: tuple[Annotated[StrictInt, Field(gt=0)], ...] = ()
    close_on_answer: bool = True
    reply_flood_per_minute: int = Field(default=20, ge=1, le=1000)

    @model_validator(mode="after")
    def _reply_admins_are_admins(self) -> BotConfig:
        strangers = set(self.reply_admins) - set(self.admins)
        if strangers:
            raise ValueError(f"reply_admins must be admins; not admins: {sorted(strangers)}")
        return self

    @property
    def repliers(self) -> tuple[int, ...]:
        """Who gets students' messages: `reply_admins`, or every admin."""
        return self.reply_admins or self.admins

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_zone(value):
            raise ValueError("unknown time zone")
        return value


DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class DatabaseConfig(_Section):
    url: str = "sqlite+aiosqlite:///herald.db"
    lease_seconds: float = Field(default=5.0, ge=1, le=60)

    @field_validator("url")
    @classmethod
    def _known_driver(cls, value: str) -> str:
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            raise ValueError("not a database URL") from None
        if driver not in DRIVERS:
            raise ValueError("unsupported database driver")
        return value


FREE_RATE_LIMIT = 30


class DeliveryConfig(_Section):
    paid_broadcast: bool = False
    rate_per_second: float = Field(default=25.0, gt=0, le=1000)
    concurrency: int = Field(default=8, ge=1, le=64)

    @field_validator("rate_per_second")
    @classmethod
    def _paid_for_speed(cls, value: float, info: ValidationInfo) -> float:
        if value > FREE_RATE_LIMIT and not info.data.get("paid_broadcast"):
            raise ValueError("rate needs paid broadcast")
        return value


class SchedulingConfig(_Section):
    max_lateness: timedelta = timedelta(hours=6)

    @field_validator("max_lateness", mode="before")
    @classmethod
    def _duration(cls, value: object) -> timedelta:
        if isinstance(value, timedelta):
            return value
        parsed = parse_duration(value) if isinstance(value, str) else None
        if parsed is None:
            raise ValueError("not a duration")
        return parsed


class StreamConfig(_Section):
    code: str
    title: str = Field(min_length=1, max_length=64)

    @field_validator("code")
    @classmethod
    def _code_shape(cls, value: str) -> str:
        if not _STREAM_CODE_RE.match(value):
            raise ValueError("bad stream code")
        return value


class Config(_Section):
    telegram: TelegramConfig = TelegramConfig()
    bot: BotConfig
    database: DatabaseConfig = DatabaseConfig()
    delivery: DeliveryConfig = DeliveryConfig()
    scheduling: SchedulingConfig = SchedulingConfig()
    streams: tuple[StreamConfig, ...] = ()

    @property
    def token(self) -> str:
        return self.telegram.token.get_secret_value()


_HINTS: dict[str, str] = {
    "telegram.token": 'write the token from @BotFather, e.g. token = "123456:ABC...", '
    f"or set {TOKEN_ENV}",
    "bot.admins": "write a list of numeric Telegram user ids, e.g. admins = [111111111]",
    "bot.language": 'write "en" or "ru"',
    "bot.timezone": 'write an IANA time zone name, e.g. timezone = "Europe/Moscow"',
    "bot.welcome_text": 'write the greeting students see, e.g. welcome_text = "Hello!"',
    "database.url": 'write an SQLAlchemy URL, e.g. url = "sqlite+aiosqlite:///herald.db" or '
    '"postgresql+asyncpg://user:password@host/herald"',
    "database.lease_seconds": "write a number of seconds from 1 to 60, e.g. lease_seconds = 5",
    "delivery.rate_per_second": "write a number of messages per second, at most 30 "
    "(up to 1000 with paid_broadcast = true)",
    "delivery.paid_broadcast": "write true or false",
    "delivery.concurrency": "write a whole number from 1 to 64",
    "scheduling.max_lateness": 'write a duration such as "6h", "90m" or "1d"',
    "streams.code": 'write 1-32 lowercase letters, digits or "_", e.g. code = "3rd_stream"',
    "streams.title": 'write a title of 1-64 characters, e.g. title = "3-й поток"',
}


_SECRET_KEYS = {"telegram.token", "database.url"}
"""Values never quoted back in an error: a database URL may carry a password."""


def _key_path(loc: tuple[int | str, ...]) -> tuple[str, str]:
    """Render a pydantic location as `a.b[2]` plus the hint key without list indexes."""
    shown = ""
    hint_parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            shown += f"[{part}]"
        else:
            shown += f".{part}" if shown else part
            hint_parts.append(part)
    return shown, ".".join(hint_parts)


def _describe(error: Mapping[str, Any]) -> str:
    shown, hint_key = _key_path(tuple(error["loc"]))
    kind = error["type"]
    if kind == "extra_forbidden":
        return f"{shown}: unknown key; remove it or fix its spelling (see config.example.toml)"
    hint = _HINTS.get(hint_key, "see config.example.toml")
    if kind == "missing":
        return f"{shown}: missing; {hint}"
    value = error.get("input")
    shown_value = isinstance(value, str | int | float | bool) and hint_key not in _SECRET_KEYS
    got = f" (got {value!r})" if shown_value else ""
    return f"{shown}: invalid value{got}; {hint}"


def parse_config(data: Mapping[str, Any], env: Mapping[str, str]) -> Config:
    """Validate raw TOML data; the token from the environment wins over the file."""
    merged: dict[str, Any] = {**data}
    env_token = env.get(TOKEN_ENV, "").strip()
    if env_token:
        telegram = merged.get("telegram")
        merged["telegram"] = {
            **(telegram if isinstance(telegram, dict) else {}),
            "token": env_token,
        }
    try:
        config = Config.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc.errors()[0])) from None
    token = config.token
    if not token or token == "123456:replace-me":
        raise ConfigError(f"telegram.token: missing; {_HINTS['telegram.token']}")
    if not _TOKEN_RE.match(token):
        raise ConfigError(
            f"telegram.token: does not look like a bot token; {_HINTS['telegram.token']}"
        )
    codes = [stream.code for stream in config.streams]
    duplicates = sorted({code for code in codes if codes.count(code) > 1})
    if duplicates:
        raise ConfigError(
            f"streams.code: {duplicates[0]!r} appears twice; give each stream its own"
        )
    return config


def load_config(path: Path, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config file at `path`."""
    environ = os.environ if env is None else env
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: config file not found; copy config.example.toml to {path} and edit it"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc}); fix the file's syntax") from None
    return parse_config(data, environ)
