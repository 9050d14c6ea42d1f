"""The "Repeat" screen of a draft being scheduled: every day, week (on ticked weekdays) or month,
and an end typed as a number of times or a last date. Drawn from the draft, one message."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from babel.dates import format_date, get_day_names
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import ComposeAction, ComposeCb
from bot.compose import Draft
from bot.scheduling import display
from bot.scheduling.recurrence import Frequency, Rule, starting_at
from bot.texts import Texts
from bot.texts.render import html, join

FREQUENCIES = (Frequency.DAILY, Frequency.WEEKLY, Frequency.MONTHLY)


def describe(texts: Texts, rule: Rule) -> str:
    """`every week on Mon, Thu at 18:00, 10 times` in the reader's language."""
    time = f"{rule.hour:02d}:{rule.minute:02d}"
    if rule.frequency is Frequency.DAILY:
        text = texts.rule_daily.format(time=time)
    elif rule.frequency is Frequency.WEEKLY:
        names = get_day_names("abbreviated", locale=texts.language)
        days = ", ".join(names[d] for d in sorted(rule.weekdays))
        text = texts.rule_weekly.format(days=days, time=time)
    else:
        text = texts.rule_monthly.format(day=rule.monthday, time=time)
        if rule.monthday > 28:
            text += texts.rule_month_end
    if rule.until is not None:
        text += texts.rule_until.format(date=short_date(texts, rule.until))
    if rule.count is not None:
        text += texts.plural(texts.rule_count, rule.count)
    return str(text)


def short_date(texts: Texts, day: date) -> str:
    return format_date(day, "d MMM y", locale=texts.language)


def start(draft: Draft, zone: str) -> Rule:
    """The rule the screen opens with: weekly, on the weekday of the chosen first time."""
    assert draft.when is not None
    draft.repeat = starting_at(Frequency.WEEKLY, draft.when.utc, zone)
    return draft.repeat


def change(draft: Draft, data: ComposeCb, zone: str) -> bool:
    """Apply a tap on the screen to the draft's rule; False for a tap that changes nothing
    possible (the last ticked weekday cannot be unticked)."""
    rule = draft.repeat
    assert rule is not None and draft.when is not None
    if data.action is ComposeAction.FREQUENCY and 0 <= data.arg < len(FREQUENCIES):
        fresh = starting_at(FREQUENCIES[data.arg], draft.when.utc, zone)
        draft.repeat = fresh.with_end(rule.until, rule.count)
        return True
    if data.action is ComposeAction.WEEKDAY and 0 <= data.arg < 7:
        days = rule.weekdays ^ {data.arg}
        if not days or rule.frequency is not Frequency.WEEKLY:
            return False
        draft.repeat = replace(rule, weekdays=days)
        return True
    if data.action is ComposeAction.NO_END:
        draft.repeat = rule.with_end(None, None)
        return True
    return False


def screen(texts: Texts, draft: Draft, zone: str) -> tuple[str, InlineKeyboardMarkup]:
    rule = draft.repeat
    assert rule is not None and draft.when is not None

    def b(label: str, action: ComposeAction, arg: int = 0) -> InlineKeyboardButton:
        return InlineKeyboardButton(label, callback_data=ComposeCb(draft.id, action, arg).pack())

    def tick(on: bool, label: str) -> str:
        return f"✅ {label}" if on else label

    labels = (texts.repeat_daily, texts.repeat_weekly, texts.repeat_monthly)
    rows = [
        [
            b(tick(rule.frequency is f, labels[i]), ComposeAction.FREQUENCY, i)
            for i, f in enumerate(FREQUENCIES)
        ]
    ]
    if rule.frequency is Frequency.WEEKLY:
        names = get_day_names("abbreviated", locale=texts.language)
        rows.append(
            [b(tick(d in rule.weekdays, names[d]), ComposeAction.WEEKDAY, d) for d in range(7)]
        )
    ended = rule.until is not None or rule.count is not None
    rows.append([b(tick(not ended, texts.repeat_no_end), ComposeAction.NO_END)])
    rows.append(
        [b(texts.repeat_ok, ComposeAction.SERIES_OK), b(texts.button_back, ComposeAction.BACK)]
    )
    text = join(
        [
            html(texts.repeat_title, when=display.when(draft.when.utc, zone, texts)),
            html(texts.repeat_rule, rule=describe(texts, rule)),
            html(texts.repeat_hint),
        ]
    )
    return text, InlineKeyboardMarkup(rows)
