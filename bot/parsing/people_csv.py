"""People CSV files: `user_id` and `stream` columns, optional names; comma or semicolon; UTF-8.

Pure code: bytes in, rows and per-line problems out. Whether ids exist or streams are known is
decided against the database elsewhere.
"""

from __future__ import annotations

import csv
import enum
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from bot.parsing.ids import parse_user_id

REQUIRED = ("user_id", "stream")
OPTIONAL = ("username", "first_name", "last_name")
MAX_BYTES = 20 * 1024 * 1024
_USERNAME = re.compile(r"^[A-Za-z0-9_]{4,32}$")
_NAME_LIMIT = 128


class FileProblem(enum.Enum):
    TOO_BIG = "too_big"
    NOT_UTF8 = "not_utf8"
    EMPTY = "empty"
    MISSING_COLUMN = "missing_column"
    UNREADABLE = "unreadable"  # the CSV itself is broken (a cell over the size limit...)


class RowProblem(enum.Enum):
    BAD_ID = "bad_id"
    DUPLICATE = "duplicate"
    BAD_USERNAME = "bad_username"
    TOO_LONG = "too_long"
    COLUMNS = "columns"


@dataclass
class FileError(Exception):
    problem: FileProblem
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PersonRow:
    line: int
    user_id: int
    stream: str | None  # empty cell: in no stream
    username: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True)
class LineProblem:
    line: int
    problem: RowProblem
    detail: str = ""


@dataclass
class ParsedFile:
    rows: list[PersonRow] = field(default_factory=list)
    problems: list[LineProblem] = field(default_factory=list)


def _decode(data: bytes) -> str:
    if len(data) > MAX_BYTES:
        raise FileError(FileProblem.TOO_BIG, str(MAX_BYTES // (1024 * 1024)))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise FileError(FileProblem.NOT_UTF8) from None


def _delimiter(header: str) -> str:
    return ";" if header.count(";") > header.count(",") else ","


def parse_people_csv(data: bytes) -> ParsedFile:
    """Rows and line-numbered problems; raises FileError when the file as a whole is unusable."""
    text = _decode(data)
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise FileError(FileProblem.EMPTY)
    reader = csv.reader(io.StringIO(text), delimiter=_delimiter(lines[0]))
    records = _records(reader)
    header = [cell.strip().lower() for cell in next(records)]
    for column in REQUIRED:
        if column not in header:
            raise FileError(FileProblem.MISSING_COLUMN, column)
    index = {name: header.index(name) for name in (*REQUIRED, *OPTIONAL) if name in header}
    parsed = ParsedFile()
    seen: dict[int, int] = {}
    for cells in records:
        line = reader.line_num
        if not any(cell.strip() for cell in cells):
            continue
        problem = _row(cells, line, index, len(header), seen)
        if isinstance(problem, LineProblem):
            parsed.problems.append(problem)
        else:
            parsed.rows.append(problem)
    if not parsed.rows and not parsed.problems:
        raise FileError(FileProblem.EMPTY)
    return parsed


def _records(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a CSV the module cannot read ends the whole file with its line."""
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            raise FileError(FileProblem.UNREADABLE, str(reader.line_num)) from None
        yield cells


def _row(
    cells: list[str], line: int, index: dict[str, int], width: int, seen: dict[int, int]
) -> PersonRow | LineProblem:
    if len(cells) != width:
        return LineProblem(line, RowProblem.COLUMNS, f"{len(cells)}/{width}")

    def cell(name: str) -> str | None:
        value = cells[index[name]].strip() if name in index else ""
        return value or None

    raw_id = cell("user_id") or ""
    user_id = parse_user_id(raw_id)
    if user_id is None:
        return LineProblem(line, RowProblem.BAD_ID, raw_id)
    if user_id in seen:
        return LineProblem(line, RowProblem.DUPLICATE, str(seen[user_id]))
    username = cell("username")
    if username is not None:
        username = username.removeprefix("@")
        if not _USERNAME.match(username):
            return LineProblem(line, RowProblem.BAD_USERNAME, username)
    first, last = cell("first_name"), cell("last_name")
    if any(len(v) > _NAME_LIMIT for v in (first or "", last or "")):
        return LineProblem(line, RowProblem.TOO_LONG, str(_NAME_LIMIT))
    seen[user_id] = line
    return PersonRow(line, user_id, cell("stream"), username, first, last)
