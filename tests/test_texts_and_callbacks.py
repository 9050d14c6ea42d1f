"""Catalog completeness, Russian plural forms, and callback data limits."""

from __future__ import annotations

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
    QueueAction,
    QueueCb,
)
from bot.delivery.views import duration
from bot.parsing.buttons import ButtonProblem
from bot.scheduling.timeparse import Problem
from bot.texts import CATALOGS, catalog
from db.models import DeliveryStatus, MessageStatus


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
