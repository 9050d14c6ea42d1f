"""Config validation: every mistake stops start-up with one line naming the key and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import TOKEN_ENV, ConfigError, load_config

VALID = """
[telegram]
token = "123456:ABCdef_ghi-jkl"

[bot]
admins = [111111111]
language = "ru"
timezone = "Europe/Moscow"
welcome_text = "Hi"

[database]
url = "sqlite+aiosqlite:///herald.db"

[[streams]]
code = "3rd_stream"
title = "3-й поток"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(_write(tmp_path, text), env or {})
    message = str(info.value)
    assert "\n" not in message
    return message


def test_valid_config_loads(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID), {})
    assert config.bot.admins == (111111111,)
    assert config.bot.language == "ru"
    assert config.streams[0].code == "3rd_stream"
    assert config.token == "123456:ABCdef_ghi-jkl"
    assert config.delivery.rate_per_second == 25


def test_example_config_is_valid_once_a_token_is_given() -> None:
    example = Path(__file__).resolve().parent.parent / "config.example.toml"
    config = load_config(example, {TOKEN_ENV: "42:real-token"})
    assert config.token == "42:real-token"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.toml", {})
    assert "config file not found; copy config.example.toml" in str(info.value)


def test_broken_toml(tmp_path: Path) -> None:
    assert "not valid TOML" in _error(tmp_path, "[bot\nadmins = 1")


def test_missing_token(tmp_path: Path) -> None:
    text = VALID.replace('token = "123456:ABCdef_ghi-jkl"', "")
    message = _error(tmp_path, text)
    assert message.startswith("telegram.token: missing;")
    assert TOKEN_ENV in message


def test_placeholder_token_counts_as_missing(tmp_path: Path) -> None:
    text = VALID.replace("123456:ABCdef_ghi-jkl", "123456:replace-me")
    assert _error(tmp_path, text).startswith("telegram.token: missing;")


def test_malformed_token(tmp_path: Path) -> None:
    text = VALID.replace("123456:ABCdef_ghi-jkl", "not a token")
    assert _error(tmp_path, text).startswith("telegram.token: does not look like a bot token")


def test_token_from_environment_wins(tmp_path: Path) -> None:
    text = VALID.replace('token = "123456:ABCdef_ghi-jkl"', "")
    config = load_config(_write(tmp_path, text), {TOKEN_ENV: "777:from-env"})
    assert config.token == "777:from-env"


def test_unknown_time_zone(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace("Europe/Moscow", "Mars/Olympus"))
    assert message == (
        "bot.timezone: invalid value (got 'Mars/Olympus'); "
        'write an IANA time zone name, e.g. timezone = "Europe/Moscow"'
    )


def test_non_numeric_admin(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace("admins = [111111111]", 'admins = [1, "boss"]'))
    assert message == (
        "bot.admins[1]: invalid value (got 'boss'); "
        "write a list of numeric Telegram user ids, e.g. admins = [111111111]"
    )


def test_no_admins(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace("admins = [111111111]", "admins = []"))
    assert message.startswith("bot.admins: invalid value;")


def test_missing_bot_section(tmp_path: Path) -> None:
    text = VALID.split("[bot]")[0] + "[database]\nurl = 'sqlite+aiosqlite:///x.db'\n"
    assert _error(tmp_path, text).startswith("bot: missing;")


def test_unknown_language(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace('language = "ru"', 'language = "de"'))
    assert message == 'bot.language: invalid value (got \'de\'); write "en" or "ru"'


def test_unknown_key(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace("[bot]", "[bot]\nadmin = [1]"))
    assert message == (
        "bot.admin: unknown key; remove it or fix its spelling (see config.example.toml)"
    )


def test_unknown_section(tmp_path: Path) -> None:
    assert _error(tmp_path, VALID + "\n[extra]\nx = 1\n").startswith("extra: unknown key")


def test_bad_stream_code(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID.replace('code = "3rd_stream"', 'code = "3rd stream!"'))
    assert message.startswith("streams[0].code: invalid value (got '3rd stream!');")


def test_duplicate_stream_code(tmp_path: Path) -> None:
    text = VALID + '\n[[streams]]\ncode = "3rd_stream"\ntitle = "again"\n'
    assert _error(tmp_path, text).startswith("streams.code: '3rd_stream' appears twice")


def test_cli_without_config_stops_with_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "", "PYTHONPATH": str(Path(__file__).resolve().parent.parent)},
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("herald: config error: ")
    assert "config file not found" in lines[0]


def test_fast_rate_needs_paid_broadcast(tmp_path: Path) -> None:
    message = _error(tmp_path, VALID + "\n[delivery]\nrate_per_second = 100\n")
    assert message.startswith("delivery.rate_per_second: invalid value (got 100);")
    assert "paid_broadcast = true" in message
    config = load_config(
        _write(tmp_path, VALID + "\n[delivery]\nrate_per_second = 100\npaid_broadcast = true\n"),
        {},
    )
    assert config.delivery.rate_per_second == 100


def test_max_lateness(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, VALID + '\n[scheduling]\nmax_lateness = "90m"\n'), {})
    assert config.scheduling.max_lateness.total_seconds() == 5400
    message = _error(tmp_path, VALID + '\n[scheduling]\nmax_lateness = "soon"\n')
    assert message == (
        "scheduling.max_lateness: invalid value (got 'soon'); "
        'write a duration such as "6h", "90m" or "1d"'
    )


@pytest.mark.parametrize(
    "url",
    ["mysql://root:hunter2@db/herald", "postgresql://herald:hunter2@db/herald", "not a url"],
)
def test_unsupported_database_url_is_refused_without_echoing_it(tmp_path: Path, url: str) -> None:
    message = _error(tmp_path, VALID.replace("sqlite+aiosqlite:///herald.db", url))
    assert message.startswith("database.url: invalid value; write an SQLAlchemy URL")
    assert "postgresql+asyncpg://" in message
    assert "hunter2" not in message


def test_postgresql_url_is_accepted(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://herald:secret@127.0.0.1:5432/herald"
    config = load_config(_write(tmp_path, VALID.replace("sqlite+aiosqlite:///herald.db", url)), {})
    assert config.database.url == url
