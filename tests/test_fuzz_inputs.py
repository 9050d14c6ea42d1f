"""Every admin text input, fed generated strings: each gets exactly one reply, and nothing
reaches the error handler (the harness fails the test if anything does)."""

from __future__ import annotations

import csv
import io
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bot.callbacks import (
    AuditCb,
    CallbackData,
    DeliveryAction,
    DeliveryCb,
    HistoryAction,
    HistoryCb,
    InboxAction,
    InboxCb,
    PeopleAction,
    PeopleCb,
    QueueAction,
    QueueCb,
)
from bot.delivery.content import Content
from db.models import MessageKind
from db.repo.audience import Selection
from tests.emulator import FaultKind
from tests.harness import ADMIN_ID, Harness, buttons

Step = Callable[[Harness], Awaitable[object]]


def _say(text: str) -> Step:
    return lambda herald: herald.say(ADMIN_ID, text)


def _press(label: str) -> Step:
    return lambda herald: herald.press(label)


async def _rename_first(herald: Harness) -> None:
    """Rename on the first stream, whatever an earlier example renamed it to."""
    menu = herald.menu(ADMIN_ID)
    await herald.tap(ADMIN_ID, menu, buttons(menu)[0][0][1])


_COMPOSE = [_say("/send")]
_BUTTONS = [*_COMPOSE, _say("Hello")]
_RECIPIENTS = [*_BUTTONS, _press("Skip")]
_REVIEW = [*_RECIPIENTS, _press("Everyone"), _press("Done")]
STEPS: dict[str, list[Step]] = {
    "message": _COMPOSE,
    "buttons": _BUTTONS,
    "recipient search": _RECIPIENTS,
    "review": _REVIEW,
    "schedule time": [*_REVIEW, _press("Schedule")],
    "stream code": [_say("/streams"), _press("Add stream")],
    "stream title": [_say("/streams"), _press("Add stream"), _say("fuzz_code")],
    "stream rename": [_say("/streams"), _rename_first],
}
COMMANDS = ["/users", "/timezone"]

_ANY_CHAR = st.characters(codec="utf-8")
TYPED = st.one_of(
    st.text(_ANY_CHAR, min_size=1, max_size=80),
    st.text(_ANY_CHAR, min_size=3000, max_size=4096),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.text(st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp", "Mn"]), min_size=1),
    st.lists(
        st.sampled_from(["<b>", "</i>", "&amp;", "&", "<", ">", '"', "<a href='x'>", "{0}", "%s"]),
        min_size=1,
        max_size=12,
    ).map("".join),
    st.sampled_from(["²", "--5", "٣٤", "99999999999999999999", "\u200b", "＠user", "@"]),
    st.from_regex(
        r"\+?[0-9]{1,25}[-.:hdmчд ]{0,2}[0-9]{0,25}( [0-9]{1,3}:[0-9]{1,3})?", fullmatch=True
    ),
).filter(lambda s: not s.startswith("/"))

FUZZ = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


async def _ready(herald: Harness) -> None:
    """People to pick, and no conversation left open by the previous example."""
    if 7001 not in herald.emulator.users:
        herald.emulator.add_user(7001, first_name="Fuzz", username="fuzz_user")
        await herald.enroll([7001], "3rd_stream")
    await herald.say(ADMIN_ID, "/cancel")


async def _one_reply(herald: Harness, text: str) -> None:
    before = herald.count(ADMIN_ID)
    await herald.say(ADMIN_ID, text)
    assert herald.count(ADMIN_ID) == before + 1, f"{text!r} got {herald.count(ADMIN_ID) - before}"
    assert herald.errors == [], herald.errors


@pytest.mark.parametrize("step", list(STEPS))
@FUZZ
@given(text=TYPED)
async def test_every_step_answers_once(herald: Harness, step: str, text: str) -> None:
    await _ready(herald)
    for go in STEPS[step]:
        await go(herald)
    await _one_reply(herald, text)


@pytest.mark.parametrize("command", COMMANDS)
@FUZZ
@given(text=TYPED)
async def test_every_command_argument_answers_once(
    herald: Harness, command: str, text: str
) -> None:
    await _ready(herald)
    await _one_reply(herald, f"{command} {text}")


CELL = st.one_of(st.text(_ANY_CHAR, max_size=40), TYPED.map(lambda s: s[:200]))


@settings(FUZZ, suppress_health_check=[*FUZZ.suppress_health_check, HealthCheck.data_too_large])
@given(
    rows=st.lists(
        st.tuples(st.one_of(CELL, st.integers(-(10**25), 10**25).map(str)), CELL, CELL),
        min_size=1,
        max_size=20,
    )
)
async def test_csv_cells_get_one_report(herald: Harness, rows: list[tuple[str, str, str]]) -> None:
    await _ready(herald)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["user_id", "stream", "first_name"])
    writer.writerows(rows)
    before = herald.count(ADMIN_ID)
    document = herald.emulator.user_document(
        ADMIN_ID, "people.csv", buffer.getvalue().encode("utf-8")
    )
    await herald.feed(document)
    assert herald.count(ADMIN_ID) == before + 1
    assert herald.errors == [], herald.errors


PREFIXES = ["m", "d", "c", "w", "q", "h", "t", "l", "p", "i", "sm", "lg", "a", "ed", "ib", "sr"]
"""Every kind of button data Herald makes."""
CALLBACK = st.tuples(
    st.sampled_from([*PREFIXES, "zz"]),
    st.lists(st.one_of(TYPED.map(lambda s: s[:10]), st.sampled_from(["ls", "c", "s²", "0", "-1"]))),
).map(lambda t: ":".join([t[0], *t[1]]).encode()[:64].decode(errors="ignore"))


@FUZZ
@given(data=CALLBACK)
@example(data="h:ls:a:s²:0:0")
@example(data="p:mv:99999999999999999999:1")
@example(data="d:retry:-1:0")
async def test_forged_button_data_is_answered(herald: Harness, data: str) -> None:
    """A custom client can send any callback data; every tap is still answered, once."""
    await _ready(herald)
    menu = await herald.say(ADMIN_ID, "/start")
    answers = len(herald.emulator.callback_answers)
    await herald.tap(ADMIN_ID, menu, data)
    assert len(herald.emulator.callback_answers) == answers + 1
    assert herald.errors == [], herald.errors


def test_the_forged_taps_cover_every_kind_of_button() -> None:
    assert set(PREFIXES) == set(CallbackData._registry)


PAGED: dict[str, tuple[CallbackData, CallbackData]] = {
    "audit": (AuditCb(page=-1), AuditCb()),
    "history": (HistoryCb(HistoryAction.LIST, page=-1), HistoryCb(HistoryAction.LIST)),
    "scheduled": (QueueCb(QueueAction.LIST, page=-1), QueueCb(QueueAction.LIST)),
    "inbox": (InboxCb(InboxAction.LIST, page=-1), InboxCb(InboxAction.LIST)),
    "people": (PeopleCb(PeopleAction.RESULTS, arg=-1), PeopleCb(PeopleAction.RESULTS)),
    "not reached": (
        DeliveryCb(DeliveryAction.FAILURES_PAGE, 1, page=-1),
        DeliveryCb(DeliveryAction.FAILURES_PAGE, 1),
    ),
}
"""Each paged list: the tap on page -1, and the tap on its first page."""


@pytest.mark.parametrize("screen", list(PAGED))
async def test_a_forged_negative_page_shows_the_first(herald: Harness, screen: str) -> None:
    """Page -1 of any list (a database refuses a negative offset) reads as page 1 does."""
    await _ready(herald)
    herald.emulator.fail(FaultKind.CHAT_NOT_FOUND, chat_id=7001, method="sendMessage")
    broadcaster = herald.app.bot_data.services.broadcaster
    everyone = Selection(everyone=True)
    message = await broadcaster.submit(ADMIN_ID, Content(MessageKind.TEXT, "Hi"), everyone)
    broadcaster.start(message, ADMIN_ID, None)
    await herald.deliveries_done()
    screen_message = await herald.say(ADMIN_ID, "/start")
    forged, first = PAGED[screen]
    await herald.tap(ADMIN_ID, screen_message, first.pack())
    expected = herald.current(screen_message)["text"]
    answers = len(herald.emulator.callback_answers)
    await herald.tap(ADMIN_ID, screen_message, forged.pack())
    assert len(herald.emulator.callback_answers) == answers + 1
    assert herald.errors == [], herald.errors
    assert herald.current(screen_message)["text"] == expected
