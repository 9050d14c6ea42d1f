"""Catalog completeness, Russian plural forms, and callback data limits."""

from __future__ import annotations

import dataclasses
import string
from collections.abc import Mapping

import pytest

from bot.callbacks import (
    MAX_BYTES,
    CallbackDataError,
    ComposeAction,
    ComposeCb,
    DeliveryAction,
    DeliveryCb,
    MenuAction,
    MenuCb,
    Period,
    QueueAction,
    QueueCb,
)
from bot.delivery.views import RunKind, duration
from bot.parsing.buttons import ButtonProblem
from bot.parsing.people_csv import FileProblem, RowProblem
from bot.scheduling.timeparse import Problem
from bot.texts import CATALOGS, catalog
from bot.texts.catalog import Plural, Texts
from db.models import AuditAction, DeliveryStatus, MessageStatus


@pytest.mark.parametrize("language", sorted(CATALOGS))
def test_every_problem_and_status_has_a_text(language: str) -> None:
    texts = catalog(language)
    assert set(texts.button_problems) == {p.value for p in ButtonProblem}
    assert set(texts.status_names) == {s.value for s in DeliveryStatus}
    assert set(texts.time_problems) == {p.value for p in Problem}
    assert set(texts.message_status_names) == {s.value for s in MessageStatus}


@pytest.mark.parametrize(
    ("n", "expected"),
    [
        (1, "1 участник"),
        (2, "2 участника"),
        (4, "4 участника"),
        (5, "5 участников"),
        (11, "11 участников"),
        (12, "12 участников"),
        (21, "21 участник"),
        (22, "22 участника"),
        (25, "25 участников"),
        (101, "101 участник"),
        (111, "111 участников"),
        (0, "0 участников"),
    ],
)
def test_russian_plurals(n: int, expected: str) -> None:
    texts = catalog("ru")
    assert texts.plural(texts.members, n) == expected


def test_english_plurals() -> None:
    texts = catalog("en")
    assert [texts.plural(texts.people, n) for n in (0, 1, 2)] == [
        "0 people",
        "1 person",
        "2 people",
    ]


def test_callback_data_round_trip_and_size() -> None:
    widest = [
        MenuCb(MenuAction.STREAMS),
        DeliveryCb(DeliveryAction.FAILURES_PAGE, 2**53, 10**6),
        ComposeCb("ffffff", ComposeAction.SCHEDULE_OK, 2**53),
        QueueCb(QueueAction.CANCEL_OK, 2**53, 10**6),
    ]
    for data in widest:
        packed = data.pack()
        assert len(packed.encode()) <= MAX_BYTES
        assert type(data).unpack(packed) == data


@pytest.mark.parametrize("bad", ["m:nope", "d:stop", "d:stop:x:0", "c:abc:st", "zz:1", ""])
@pytest.mark.parametrize("kind", [MenuCb, DeliveryCb, ComposeCb, QueueCb])
def test_callback_data_rejects_foreign_and_malformed(
    kind: type[MenuCb | DeliveryCb | ComposeCb | QueueCb], bad: str
) -> None:
    with pytest.raises(CallbackDataError):
        kind.unpack(bad)
    assert not kind.matches()(bad)


def test_durations_read_naturally() -> None:
    en, ru = catalog("en"), catalog("ru")
    assert [duration(en, s) for s in (0.4, 59, 60, 95, 3600, 3725)] == [
        "0 s",
        "59 s",
        "1 min",
        "1 min 35 s",
        "1 h 0 min",
        "1 h 2 min",
    ]
    assert duration(ru, 1800) == "30 мин"


def _fields(value: object) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(str(value)) if name is not None}


def _placeholders(texts: Texts) -> dict[str, set[str]]:
    """Every text's placeholders, by field (and key or plural form)."""
    found: dict[str, set[str]] = {}
    for field in dataclasses.fields(Texts):
        value = getattr(texts, field.name)
        if isinstance(value, str):
            found[field.name] = _fields(value)
        elif isinstance(value, Plural):
            for form in ("one", "other"):
                found[f"{field.name}.{form}"] = _fields(getattr(value, form))
        elif isinstance(value, Mapping):
            for key, text in value.items():
                found[f"{field.name}[{key}]"] = _fields(text)
    return found


def test_both_catalogs_have_the_same_placeholders_everywhere() -> None:
    english, russian = _placeholders(catalog("en")), _placeholders(catalog("ru"))
    assert set(english) == set(russian)
    differ = {k: (english[k], russian[k]) for k in english if english[k] != russian[k]}
    assert differ == {}


def test_russian_plural_forms_all_use_the_count() -> None:
    texts = catalog("ru")
    for field in dataclasses.fields(Texts):
        value = getattr(texts, field.name)
        if isinstance(value, Plural):
            forms = [value.one, value.few, value.many, value.other]
            assert all(f is not None and "{n}" in f for f in forms), field.name


@pytest.mark.parametrize("language", sorted(CATALOGS))
def test_every_rendered_enum_member_has_a_label(language: str) -> None:
    texts = catalog(language)
    assert set(texts.action_names) == {a.value for a in AuditAction}
    assert set(texts.period_names) == {p.value for p in Period}
    assert set(texts.run_kinds) == {k.value for k in RunKind}
    assert set(texts.import_row_problems) == {p.value for p in RowProblem}
    assert set(texts.import_file_problems) == {p.value for p in FileProblem}
    assert set(texts.person_status) == {"active", "blocked", "not_started"}


COUNTS = (0, 1, 2, 5, 11, 21, 22, 25, 101, 111)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        (
            "picked",
            "выбрано 0 человек|выбран 1 человек|выбрано 2 человека|выбрано 5 человек|"
            "выбрано 11 человек|выбран 21 человек|выбрано 22 человека|выбрано 25 человек|"
            "выбран 101 человек|выбрано 111 человек",
        ),
        (
            "will_get",
            "получат 0 человек|получит 1 человек|получат 2 человека|получат 5 человек|"
            "получат 11 человек|получит 21 человек|получат 22 человека|получат 25 человек|"
            "получит 101 человек|получат 111 человек",
        ),
        (
            "people_to",
            "0 получателям|1 получателю|2 получателям|5 получателям|11 получателям|"
            "21 получателю|22 получателям|25 получателям|101 получателю|111 получателям",
        ),
        (
            "people_found",
            "найдено 0 человек|найден 1 человек|найдено 2 человека|найдено 5 человек|"
            "найдено 11 человек|найден 21 человек|найдено 22 человека|найдено 25 человек|"
            "найден 101 человек|найдено 111 человек",
        ),
        (
            "recipients",
            "0 получателей|1 получатель|2 получателя|5 получателей|11 получателей|"
            "21 получатель|22 получателя|25 получателей|101 получатель|111 получателей",
        ),
        (
            "more_streams",
            "ещё 0 потоков|ещё 1 поток|ещё 2 потока|ещё 5 потоков|ещё 11 потоков|"
            "ещё 21 поток|ещё 22 потока|ещё 25 потоков|ещё 101 поток|ещё 111 потоков",
        ),
        (
            "blocked_people",
            ", 0 заблокировали бота|, 1 заблокировал бота|, 2 заблокировали бота|"
            ", 5 заблокировали бота|, 11 заблокировали бота|, 21 заблокировал бота|"
            ", 22 заблокировали бота|, 25 заблокировали бота|, 101 заблокировал бота|"
            ", 111 заблокировали бота",
        ),
        (
            "import_lines",
            "в строках 0|в строке 1|в строках 2|в строках 5|в строках 11|в строке 21|"
            "в строках 22|в строках 25|в строке 101|в строках 111",
        ),
    ],
)
def test_russian_counted_phrases_agree(phrase: str, expected: str) -> None:
    texts = catalog("ru")
    got = [texts.plural(getattr(texts, phrase), n) for n in COUNTS]
    assert got == expected.split("|")


def test_russian_decimals_use_a_comma() -> None:
    assert catalog("ru").decimal(3.6) == "3,6"
    assert catalog("en").decimal(3.6) == "3.6"
