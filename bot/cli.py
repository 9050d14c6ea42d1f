"""Command line: `herald` runs the bot; `herald import-users FILE.csv` imports people."""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from datetime import UTC, datetime
from html import unescape
from pathlib import Path

from bot.app import ALLOWED_UPDATES, build_application
from bot.config import Config, ConfigError, load_config
from bot.logs import configure_logging
from bot.parsing.people_csv import FileError, parse_people_csv
from bot.people.importer import apply_import, plan_import, report
from bot.runner import TokenRejected, serve
from bot.texts import catalog
from bot.texts.render import html
from db.engine import create_engine, session_factory
from db.migrate import upgrade_to_head

COMMAND_LINE_ACTOR = 0
"""The audit log's actor for changes made from the command line."""


def _plain(markup: str) -> str:
    """An HTML message as terminal text: tags dropped, entities turned back into characters."""
    return unescape(re.sub(r"<[^>]+>", "", markup))


async def import_users(config: Config, data: bytes, apply: bool) -> int:
    """The chat's import, from a terminal: a dry run, and with `apply` the change itself."""
    texts = catalog(config.bot.language)
    try:
        parsed = parse_people_csv(data)
    except FileError as error:
        problem = texts.import_file_problems[error.problem.value]
        print(problem.format(detail=error.detail), file=sys.stderr)
        return 1
    engine = create_engine(config.database.url)
    try:
        await upgrade_to_head(engine)
        sessions = session_factory(engine)
        async with sessions() as session:
            plan = await plan_import(session, parsed)
        print(_plain(report(texts, plan)))
        if not plan.ready:
            return 1
        if not apply:
            print(texts.import_dry_run_cli)
            return 0
        applied = await apply_import(
            sessions, plan, lambda: datetime.now(UTC), COMMAND_LINE_ACTOR, {"from": "command line"}
        )
        print(_plain(html(texts.import_done, new=applied.new, updated=applied.updated)))
        return 0
    finally:
        await engine.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description="Herald broadcast bot")
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="TOML config file")
    commands = parser.add_subparsers(dest="command")
    importer = commands.add_parser("import-users", help="import people from a CSV file")
    importer.add_argument("file", type=Path, help="CSV with user_id and stream columns")
    importer.add_argument(
        "--apply", action="store_true", help="make the changes (default: dry run)"
    )
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"herald: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.token)
    if args.command == "import-users":
        try:
            data = args.file.read_bytes()
        except OSError as exc:
            print(f"herald: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
            return 2
        return asyncio.run(import_users(config, data, args.apply))
    app = build_application(config)
    try:
        return asyncio.run(serve(app, ALLOWED_UPDATES))
    except TokenRejected as exc:
        reason = f" ({exc.reason})" if exc.reason else ""
        print(
            f"herald: Telegram rejected the token{reason}; check telegram.token "
            "in the config or HERALD_BOT_TOKEN",
            file=sys.stderr,
        )
        return 2
