"""Command line: `herald [--config PATH]` runs the bot."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.app import ALLOWED_UPDATES, build_application
from bot.config import ConfigError, load_config
from bot.logs import configure_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="herald", description="Herald broadcast bot")
    parser.add_argument("--config", type=Path, default=Path("config.toml"), help="TOML config file")
    args = parser.parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"herald: config error: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.token)
    app = build_application(config)
    app.run_polling(allowed_updates=ALLOWED_UPDATES)
    return 0
