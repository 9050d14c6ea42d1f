"""Inline keyboards, built from typed callback data and the text catalog."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.callbacks import (
    AuditCb,
    CallbackData,
    ComposeAction,
    ComposeCb,
    DeliveryCb,
    HistoryCb,
    ImportAction,
    ImportCb,
    InboxCb,
    MenuAction,
    MenuCb,
    PeopleAction,
    PeopleCb,
    Period,
    QueueAction,
    QueueCb,
    StatsCb,
    StreamAction,
    StreamCb,
)
from bot.delivery.content import Options
from bot.texts import Texts
from db.models import Stream, User, full_name
from db.repo.audience import Selection
from db.repo.streams import StreamCount

PEOPLE_PER_PAGE = 8


def _button(label: str, data: CallbackData) -> InlineKeyboardButton:
    return InlineKeyboardButton(label, callback_data=data.pack())


def admin_menu(texts: Texts) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(texts.menu_send, MenuCb(MenuAction.SEND))],
            [
                _button(texts.menu_scheduled, MenuCb(MenuAction.SCHEDULED)),
                _button(texts.menu_history, MenuCb(MenuAction.HISTORY)),
            ],
            [
                _button(texts.menu_stats, MenuCb(MenuAction.STATS)),
                _button(texts.menu_audit, MenuCb(MenuAction.AUDIT)),
            ],
            [
                _button(texts.menu_users, MenuCb(MenuAction.USERS)),
                _button(texts.menu_streams, MenuCb(MenuAction.STREAMS)),
            ],
        ]
    )


Paged = ComposeCb | DeliveryCb | QueueCb | HistoryCb | AuditCb | PeopleCb | InboxCb


def home_row(texts: Texts) -> list[InlineKeyboardButton]:
    """The way back to the main menu that every section screen ends with."""
    return [_button(texts.menu_back, MenuCb(MenuAction.HOME))]


def page_start(page: int, per_page: int) -> int:
    """The offset of a page's first row; a negative page (a custom client can send any
    button data) is the first, as a database refuses a negative offset."""
    return max(0, page) * per_page


def pager(page: int, pages: int, make: Paged, arg_name: str) -> list[InlineKeyboardButton]:
    """◀ n/m ▶ for a paged list; `make` is the callback with `arg_name` set per page."""
    if pages <= 1:
        return []
    row: list[InlineKeyboardButton] = []
    if page > 0:
        row.append(_button("◀", _with(make, arg_name, page - 1)))
    row.append(_button(f"{page + 1}/{pages}", _with(make, arg_name, page)))
    if page + 1 < pages:
        row.append(_button("▶", _with(make, arg_name, page + 1)))
    return row


def _with(data: Paged, name: str, value: int) -> Paged:
    changes: dict[str, Any] = {name: value}
    return dataclasses.replace(data, **changes)


def recipients(
    texts: Texts,
    draft: str,
    selection: Selection,
    counts: Sequence[StreamCount],
    no_stream: int,
    everyone: int,
    total: int,
) -> InlineKeyboardMarkup:
    """The group picker: streams (multi-select), no stream, everyone, find people, done."""

    def mark(on: bool) -> str:
        return "✅" if on else "▫️"

    rows = [
        [
            _button(
                f"{mark(selection.everyone or c.stream.id in selection.stream_ids)} "
                f"{c.stream.title} · {c.reachable}",
                ComposeCb(draft, ComposeAction.STREAM, c.stream.id),
            )
        ]
        for c in counts
    ]
    rows.append(
        [
            _button(
                f"{mark(selection.everyone or selection.no_stream)} "
                f"{texts.pick_no_stream} · {no_stream}",
                ComposeCb(draft, ComposeAction.NO_STREAM),
            )
        ]
    )
    rows.append(
        [
            _button(
                f"{mark(selection.everyone)} {texts.pick_everyone} · {everyone}",
                ComposeCb(draft, ComposeAction.EVERYONE),
            )
        ]
    )
    picked = len(selection.user_ids)
    find = texts.pick_find + (f" ({picked})" if picked else "")
    rows.append([_button(find, ComposeCb(draft, ComposeAction.FIND))])
    rows.append(
        [
            _button(texts.button_cancel, ComposeCb(draft, ComposeAction.CANCEL)),
            _button(texts.pick_done.format(n=total), ComposeCb(draft, ComposeAction.DONE)),
        ]
    )
    return InlineKeyboardMarkup(rows)


def people(
    texts: Texts,
    draft: str,
    found: Sequence[User],
    picked: frozenset[int],
    page: int,
    pages: int,
    total: int,
) -> InlineKeyboardMarkup:
    """Search results as toggles, paged, with a way back to the groups and to review."""
    rows = []
    for user in found:
        name = full_name(user.first_name, user.last_name) or str(user.id)
        handle = f" @{user.username}" if user.username else ""
        blocked = " ⛔" if user.is_blocked else ""
        rows.append(
            [
                _button(
                    f"{'✅' if user.id in picked else '▫️'} {name}{handle}{blocked}",
                    ComposeCb(draft, ComposeAction.PERSON, user.id),
                )
            ]
        )
    nav = pager(page, pages, ComposeCb(draft, ComposeAction.PAGE), "arg")
    if nav:
        rows.append(nav)
    rows.append(
        [
            _button(texts.pick_groups, ComposeCb(draft, ComposeAction.GROUPS)),
            _button(texts.pick_done.format(n=total), ComposeCb(draft, ComposeAction.DONE)),
        ]
    )
    return InlineKeyboardMarkup(rows)


def skip_buttons(texts: Texts, draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.button_cancel, ComposeCb(draft, ComposeAction.CANCEL)),
                _button(texts.button_skip, ComposeCb(draft, ComposeAction.SKIP_BUTTONS)),
            ]
        ]
    )


def cancel_only(texts: Texts, draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[_button(texts.button_cancel, ComposeCb(draft, ComposeAction.CANCEL))]]
    )


def review(texts: Texts, draft: str, options: Options) -> InlineKeyboardMarkup:
    """Send, the edits, test, schedule, the three delivery options (ticked when on), cancel."""

    def b(label: str, action: ComposeAction) -> InlineKeyboardButton:
        return _button(label, ComposeCb(draft, action))

    return InlineKeyboardMarkup(
        [
            [b(texts.review_send, ComposeAction.SEND)],
            [
                b(texts.review_edit_message, ComposeAction.EDIT_MESSAGE),
                b(texts.review_edit_buttons, ComposeAction.EDIT_BUTTONS),
            ],
            [
                b(texts.review_edit_recipients, ComposeAction.EDIT_RECIPIENTS),
                b(texts.review_test, ComposeAction.TEST),
            ],
            [b(texts.review_schedule, ComposeAction.SCHEDULE)],
            [
                b(mark(options.silent, texts.option_silent), ComposeAction.SILENT),
                b(mark(options.protected, texts.option_protected), ComposeAction.PROTECT),
                b(mark(options.preview, texts.option_preview), ComposeAction.PREVIEW),
            ],
            [b(texts.button_cancel, ComposeAction.CANCEL)],
        ]
    )


def draft_guard(texts: Texts, draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(texts.draft_continue, ComposeCb(draft, ComposeAction.CONTINUE))],
            [_button(texts.draft_discard, ComposeCb(draft, ComposeAction.DISCARD))],
        ]
    )


def confirm(texts: Texts, draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.button_back, ComposeCb(draft, ComposeAction.BACK)),
                _button(texts.confirm_yes, ComposeCb(draft, ComposeAction.CONFIRM)),
            ]
        ]
    )


def when_choices(texts: Texts, draft: str, choices: Sequence[int]) -> InlineKeyboardMarkup:
    """Quick times still ahead (by index into the quick list), and Back."""
    labels = (
        texts.quick_in_hour,
        texts.quick_today_18,
        texts.quick_tomorrow_9,
        texts.quick_tomorrow_18,
    )
    buttons = [_button(labels[i], ComposeCb(draft, ComposeAction.QUICK_TIME, i)) for i in choices]
    rows = [buttons[i : i + 2] for i in range(0, len(buttons), 2)]
    rows.append([_button(texts.button_back, ComposeCb(draft, ComposeAction.BACK))])
    return InlineKeyboardMarkup(rows)


def when_confirm(texts: Texts, draft: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(texts.button_schedule_ok, ComposeCb(draft, ComposeAction.SCHEDULE_OK))],
            [
                _button(texts.button_other_time, ComposeCb(draft, ComposeAction.OTHER_TIME)),
                _button(texts.button_back, ComposeCb(draft, ComposeAction.BACK)),
            ],
        ]
    )


def queue(texts: Texts, message_ids: Sequence[int], page: int, pages: int) -> InlineKeyboardMarkup:
    """One row of actions per queued message, then paging."""
    rows = [
        [
            _button(texts.sched_preview.format(id=i), QueueCb(QueueAction.PREVIEW, i, page)),
            _button(texts.sched_send, QueueCb(QueueAction.SEND, i, page)),
            _button(texts.sched_reschedule, QueueCb(QueueAction.RESCHEDULE, i, page)),
            _button(texts.sched_cancel, QueueCb(QueueAction.CANCEL, i, page)),
        ]
        for i in message_ids
    ]
    nav = pager(page, pages, QueueCb(QueueAction.LIST), "page")
    if nav:
        rows.append(nav)
    rows.append(home_row(texts))
    return InlineKeyboardMarkup(rows)


def queue_confirm(
    texts: Texts, action: QueueAction, message_id: int, page: int
) -> InlineKeyboardMarkup:
    yes = (
        (texts.sched_yes_send, QueueAction.SEND_OK)
        if action is QueueAction.SEND
        else (texts.sched_yes_cancel, QueueAction.CANCEL_OK)
    )
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.button_back, QueueCb(QueueAction.LIST, 0, page)),
                _button(yes[0], QueueCb(yes[1], message_id, page)),
            ]
        ]
    )


def mark(on: bool, label: str) -> str:
    return f"✅ {label}" if on else label


def stats(texts: Texts, period: Period) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [_button(mark(p is period, texts.period_names[p.value]), StatsCb(p)) for p in Period],
            home_row(texts),
        ]
    )


def audit(texts: Texts, data: AuditCb, pages: int, admins: dict[int, str]) -> InlineKeyboardMarkup:
    """Paging, and one button per admin to see only their actions."""
    rows: list[list[InlineKeyboardButton]] = []
    nav = pager(data.page, pages, data, "page")
    if nav:
        rows.append(nav)
    choices = [(0, texts.filter_all), *admins.items()]
    buttons = [_button(mark(data.actor == a, label), AuditCb(a, 0)) for a, label in choices]
    rows += [buttons[i : i + 3] for i in range(0, len(buttons), 3)]
    rows.append(home_row(texts))
    return InlineKeyboardMarkup(rows)


def import_choice(texts: Texts, token: str, ready: bool) -> InlineKeyboardMarkup:
    cancel = _button(texts.button_cancel, ImportCb(ImportAction.CANCEL, token))
    if not ready:
        return InlineKeyboardMarkup([[cancel]])
    return InlineKeyboardMarkup(
        [[cancel, _button(texts.button_apply, ImportCb(ImportAction.APPLY, token))]]
    )


def _person_label(user: User) -> str:
    name = full_name(user.first_name, user.last_name) or str(user.id)
    handle = f" @{user.username}" if user.username else ""
    mark = " ⛔" if user.is_blocked else (" 💤" if user.started_at is None else "")
    return f"{name}{handle}{mark}"


def people_results(
    texts: Texts, found: Sequence[User], page: int, pages: int
) -> InlineKeyboardMarkup:
    rows = [[_button(_person_label(u), PeopleCb(PeopleAction.CARD, u.id))] for u in found]
    nav = pager(page, pages, PeopleCb(PeopleAction.RESULTS), "arg")
    if nav:
        rows.append(nav)
    rows.append([_button(texts.users_export, PeopleCb(PeopleAction.EXPORT)), *home_row(texts)])
    return InlineKeyboardMarkup(rows)


def person(
    texts: Texts, user: User, streams: Sequence[Stream], undo: int | None = None
) -> InlineKeyboardMarkup:
    """Undo the move just made, move to any stream (the current one marked), remove,
    message, back."""
    back = PeopleCb(PeopleAction.UNDO, user.id, undo or 0, user.stream_id or 0)
    top = [[_button(texts.person_undo, back)]]
    moves = [
        _button(mark(s.id == user.stream_id, s.title), PeopleCb(PeopleAction.MOVE, user.id, s.id))
        for s in streams
    ]
    rows = top if undo is not None else []
    rows += [moves[i : i + 2] for i in range(0, len(moves), 2)]
    if user.stream_id is not None:
        rows.append([_button(texts.person_remove, PeopleCb(PeopleAction.REMOVE, user.id))])
    rows.append([_button(texts.person_message, PeopleCb(PeopleAction.MESSAGE, user.id))])
    rows.append([_button(texts.person_back, PeopleCb(PeopleAction.RESULTS)), *home_row(texts)])
    return InlineKeyboardMarkup(rows)


def streams_manage(texts: Texts, streams: Sequence[Stream]) -> InlineKeyboardMarkup:
    """Per stream: rename and archive or restore; then add a stream."""
    rows = [
        [
            _button(texts.stream_rename.format(title=s.title), StreamCb(StreamAction.RENAME, s.id)),
            _button(
                texts.stream_restore if s.archived else texts.stream_archive,
                StreamCb(StreamAction.RESTORE if s.archived else StreamAction.ARCHIVE, s.id),
            ),
        ]
        for s in streams
    ]
    rows.append([_button(texts.stream_add, StreamCb(StreamAction.ADD))])
    rows.append(home_row(texts))
    return InlineKeyboardMarkup(rows)


def archive_confirm(texts: Texts, stream_id: int) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [
            [
                _button(texts.button_cancel, MenuCb(MenuAction.STREAMS)),
                _button(texts.button_archive, StreamCb(StreamAction.ARCHIVE_OK, stream_id)),
            ]
        ]
    )
