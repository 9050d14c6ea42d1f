"""Keeps bench/RESULTS.md: one section per benchmark, each stamped with the machine and date."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from bench.support import machine

RESULTS = Path(__file__).with_name("RESULTS.md")
HEADER = (
    "# Benchmark results\n\n"
    "Written by the scripts in `bench/`; each section is replaced when its script runs.\n"
)


def table(rows: list[tuple[str, str, str]]) -> str:
    """A markdown table of (measure, result, target) rows."""
    lines = ["| measure | result | target |", "| --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows]
    return "\n".join(lines)


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or add) the section whose heading starts with `key`."""
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else HEADER
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    section = f"## {title}\n\nMachine: {machine()}. Run: {stamp}.\n\n{body}\n"
    pattern = re.compile(rf"^## {re.escape(key)}.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1).rstrip() + "\n"
    else:
        text = text.rstrip() + "\n\n" + section
    RESULTS.write_text(text, encoding="utf-8")
    print(section)
