"""/send: compose a message, add buttons, pick recipients, review the exact preview, send."""

from __future__ import annotations

import enum
import math
import warnings
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import Any

from markupsafe import Markup
from telegram import Chat, InlineKeyboardMarkup, Message, Update
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    TypeHandler,
    filters,
)

from bot import commands, keyboards
from bot.callbacks import (
    ComposeAction,
    ComposeCb,
    HistoryAction,
    HistoryCb,
    MenuAction,
    MenuCb,
    PeopleAction,
    PeopleCb,
)
from bot.compose import Draft, UserData
from bot.context import Handlers, HeraldContext
from bot.delivery.content import (
    Content,
    make_sender,
    personalises,
)
from bot.delivery.personal import values_of
from bot.delivery.views import duration
from bot.handlers import repeat, when
from bot.handlers.content_input import read_buttons, read_content
from bot.handlers.screens import redraw
from bot.parsing.buttons import format_buttons
from bot.scheduling import display
from bot.scheduling.recurrence import EndError, parse_end
from bot.scheduling.timeparse import Problem, Reading
from bot.scheduling.zones import to_local
from bot.texts import Texts
from bot.texts.render import MESSAGE_LIMIT, echo, fit, html, join, more
from bot.views import options_line
from db.models import MessageKind, full_name
from db.repo import admins, audience, messages, streams


class Step(enum.IntEnum):
    CONTENT = 1
    BUTTONS = 2
    RECIPIENTS = 3
    REVIEW = 4
    CONFIRM = 5
    WHEN = 6
    WHEN_CONFIRM = 7
    REPEAT = 8


END = ConversationHandler.END
SUMMARY_LIMIT = 3500
"""The review summary leaves room for the confirmation question added under it."""


def actions(*wanted: ComposeAction) -> Callable[[object], bool]:
    """Callback pattern: compose data whose action is one of `wanted`."""
    return ComposeCb.matches(lambda data: data.action in wanted)


def chat_of(update: Update) -> Chat:
    chat = update.effective_chat
    assert chat is not None
    return chat


async def tapped(update: Update, context: HeraldContext) -> tuple[Draft, ComposeCb] | None:
    """The draft and data of a compose tap; None (after saying so) when the menu is stale."""
    draft = context.user_data.draft if context.user_data else None
    data = await when.tapped(update, context, draft)
    if draft is None or not isinstance(data, ComposeCb):
        return None
    return draft, data


def draft_of(context: HeraldContext) -> Draft:
    assert context.user_data is not None and context.user_data.draft is not None
    return context.user_data.draft


# ----- step 1: the message ------------------------------------------------------------------


async def begin(update: Update, context: HeraldContext) -> Step:
    """Receives /send or the menu button; starts a fresh draft and asks for the message."""
    if update.callback_query is not None:
        await update.callback_query.answer()
    return await _start(update, context, Draft())


async def _hold_draft(context: HeraldContext, update: Update, draft: Draft) -> None:
    """Make `draft` the admin's open one, and note when it began: drafts live in memory, so
    after a restart the admin can be told theirs was lost (see `lost_draft`)."""
    assert context.user_data is not None and update.effective_user is not None
    context.user_data.draft = draft
    services = context.services
    async with services.sessions.begin() as session:
        now = services.clock()
        await admins.draft_opened(session, update.effective_user.id, now, now)


async def _drop_draft(context: HeraldContext, update: Update) -> None:
    """The draft is sent, scheduled, cancelled or gone: nothing to warn about later."""
    if context.user_data is not None:
        context.user_data.draft = None
    if update.effective_user is None:
        return
    async with context.services.sessions.begin() as session:
        await admins.draft_opened(session, update.effective_user.id, None, context.services.clock())


async def lost_draft(update: Update, context: HeraldContext) -> None:
    """Runs on an admin's first update after a start: if a draft was open when the last
    process ended, say it was lost (nothing else would tell them)."""
    user_data, user = context.user_data, update.effective_user
    services = context.services
    if user_data is None or user is None or user_data.draft_checked:
        return
    if not services.is_admin(user.id) or update.effective_chat is None:
        return
    user_data.draft_checked = True
    if user_data.draft is not None:
        return
    async with services.sessions.begin() as session:
        began = await admins.draft_started(session, user.id)
        if began is None:
            return
        await admins.draft_opened(session, user.id, None, services.clock())
    zone = await when.admin_zone(context, user.id)
    started = display.local_time(began, zone, context.texts, services.clock())
    await update.effective_chat.send_message(html(context.texts.draft_lost, when=started))


async def _start(update: Update, context: HeraldContext, draft: Draft) -> Step:
    """Make `draft` the admin's current one and ask for the message."""
    assert context.user_data is not None
    await _hold_draft(context, update, draft)
    texts = context.texts
    draft.step = Step.CONTENT
    await chat_of(update).send_message(
        texts.ask_content,
        reply_markup=keyboards.cancel_only(texts, draft.id),
    )
    return Step.CONTENT


async def got_content(update: Update, context: HeraldContext) -> Step:
    """Receives the message to broadcast; asks for buttons (or returns to review)."""
    message = update.effective_message
    assert message is not None
    draft = draft_of(context)
    texts = context.texts
    assert context.user_data is not None
    if not context.user_data.first_of_album(message.media_group_id):
        return Step.CONTENT
    content = await read_content(message, texts)
    if content is None:
        return Step.CONTENT
    if draft.content is not None:
        content = content.with_buttons(draft.content.buttons).with_options(draft.content.options)
    draft.content = content
    if draft.reviewing:
        return await show_review(update, context)
    await _ask_buttons(update, context, draft)
    return Step.BUTTONS


async def _ask_buttons(update: Update, context: HeraldContext, draft: Draft) -> None:
    texts = context.texts
    draft.step = Step.BUTTONS
    text = html(texts.ask_buttons)
    if draft.content and draft.content.buttons:
        current = html(texts.buttons_current, buttons=format_buttons(draft.content.buttons))
        text += current if len(text + current) <= MESSAGE_LIMIT else html(texts.buttons_kept)
    await chat_of(update).send_message(
        text,
        reply_markup=keyboards.skip_buttons(texts, draft.id),
    )


# ----- step 2: buttons ------------------------------------------------------------------------


async def got_buttons(update: Update, context: HeraldContext) -> Step:
    """Receives button lines; refuses the whole text with the first bad line's number."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = draft_of(context)
    texts = context.texts
    rows = await read_buttons(message, texts)
    if rows is None:
        return Step.BUTTONS
    assert draft.content is not None
    draft.content = draft.content.with_buttons(rows)
    return await _after_buttons(update, context, draft)


async def skip_buttons(update: Update, context: HeraldContext) -> Step | None:
    """Receives "Skip": the message goes without buttons."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, _ = found
    assert update.callback_query is not None and draft.content is not None
    await update.callback_query.answer()
    draft.content = draft.content.with_buttons(())
    return await _after_buttons(update, context, draft)


async def _after_buttons(update: Update, context: HeraldContext, draft: Draft) -> Step:
    if draft.reviewing or draft.preselected:
        return await show_review(update, context)
    await _send_picker(update, context, draft)
    return Step.RECIPIENTS


# ----- step 3: recipients ---------------------------------------------------------------------


async def _picker(context: HeraldContext, draft: Draft) -> tuple[Markup, InlineKeyboardMarkup]:
    """The picker's text and keyboard: groups, or search results when a query is active."""
    texts = context.texts
    async with context.services.sessions() as session:
        reach = await audience.reach(session, draft.selection)
        if draft.query:
            found, count = await audience.search(
                session,
                draft.query,
                keyboards.PEOPLE_PER_PAGE,
                keyboards.page_start(draft.page, keyboards.PEOPLE_PER_PAGE),
            )
        else:
            counts = await streams.with_counts(session)
            no_stream = await audience.reach(session, audience.Selection(no_stream=True))
            everyone = await audience.reach(session, audience.Selection(everyone=True))
    header = html(texts.pick_title, picked=texts.plural(texts.picked, reach.reachable))
    header += _left_out(texts, reach)
    if not draft.query:
        header += _all_but(texts, draft.selection, counts)
        return join([header, html(texts.pick_hint)], "\n\n"), keyboards.recipients(
            texts,
            draft.id,
            draft.selection,
            counts,
            no_stream.reachable,
            everyone.reachable,
            reach.reachable,
        )
    pages = max(1, math.ceil(count / keyboards.PEOPLE_PER_PAGE))
    if count:
        found_text = texts.plural(texts.people_found, count)
        results = html(texts.search_results, query=echo(draft.query), found=found_text)
    else:
        results = html(texts.search_nothing, query=echo(draft.query))
    markup = keyboards.people(
        texts, draft.id, found, draft.selection.user_ids, draft.page, pages, reach.reachable
    )
    return join([header, results], "\n\n"), markup


def _all_but(
    texts: Texts, selection: audience.Selection, counts: list[streams.StreamCount]
) -> Markup:
    """Names what is left out when most groups are ticked, so the ticks read as "everyone
    except"."""
    groups = {count.stream.id: count.stream.title for count in counts}
    missing = [title for key, title in groups.items() if key not in selection.stream_ids]
    if not selection.no_stream:
        missing.append(texts.pick_no_stream)
    picked = len(groups) + 1 - len(missing)
    if selection.everyone or not missing or picked <= len(missing):
        return Markup()
    return "\n" + html(texts.pick_all_but, groups=", ".join(missing))


def _left_out(texts: Texts, reach: audience.Reach) -> Markup:
    """Lines for the people a selection names but Telegram will not let the bot reach."""
    text = Markup()
    if reach.blocked:
        text += "\n" + html(texts.pick_blocked, people=texts.plural(texts.people, reach.blocked))
    if reach.not_started:
        people = texts.plural(texts.people, reach.not_started)
        text += "\n" + html(texts.pick_not_started, people=people)
    return text


async def _send_picker(update: Update, context: HeraldContext, draft: Draft) -> None:
    draft.step = Step.RECIPIENTS
    text, markup = await _picker(context, draft)
    await chat_of(update).send_message(text, reply_markup=markup)


async def _edit_picker(update: Update, context: HeraldContext, draft: Draft) -> None:
    query = update.callback_query
    assert query is not None
    draft.step = Step.RECIPIENTS
    text, markup = await _picker(context, draft)
    await redraw(query, text, markup)


def _toggle(
    selection: audience.Selection, data: ComposeCb, stream_ids: frozenset[int]
) -> audience.Selection:
    """The selection after one tap. With "everyone" on, tapping a group takes just that group
    out ("everyone except No stream"), as the ticks on every group suggested."""
    action = data.action
    base = selection
    if selection.everyone and action in (ComposeAction.STREAM, ComposeAction.NO_STREAM):
        base = audience.Selection(stream_ids, True, False, selection.user_ids)
    if action is ComposeAction.STREAM:
        return audience.Selection(
            base.stream_ids ^ {data.arg}, base.no_stream, False, base.user_ids
        )
    if action is ComposeAction.NO_STREAM:
        return audience.Selection(base.stream_ids, not base.no_stream, False, base.user_ids)
    if action is ComposeAction.EVERYONE:
        return audience.Selection(frozenset(), False, not base.everyone, base.user_ids)
    if action is ComposeAction.PERSON:
        return audience.Selection(
            base.stream_ids, base.no_stream, base.everyone, base.user_ids ^ {data.arg}
        )
    return base


async def picker_tap(update: Update, context: HeraldContext) -> Step | None:
    """Receives a tap in the picker: toggles, paging, find, back to groups, done."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query = update.callback_query
    assert query is not None
    texts = context.texts
    action = data.action
    if action is ComposeAction.FIND:
        await query.answer()
        await chat_of(update).send_message(texts.ask_search)
        return Step.RECIPIENTS
    if action is ComposeAction.DONE:
        async with context.services.sessions() as session:
            reach = await audience.reach(session, draft.selection)
        if reach.reachable == 0:
            await query.answer(texts.pick_nobody, show_alert=True)
            return Step.RECIPIENTS
        await query.answer()
        return await show_review(update, context, in_place=True)
    await query.answer()
    if action is ComposeAction.PAGE:
        draft.page = max(0, data.arg)
    elif action is ComposeAction.GROUPS:
        draft.query, draft.page = "", 0
    else:
        async with context.services.sessions() as session:
            active = frozenset(s.id for s in await streams.listed(session))
        draft.selection = _toggle(draft.selection, data, active)
    await _edit_picker(update, context, draft)
    return Step.RECIPIENTS


async def got_search(update: Update, context: HeraldContext) -> Step:
    """Receives a @username, part of a name or an id; shows matches as toggles."""
    message = update.effective_message
    assert message is not None and message.text is not None
    draft = draft_of(context)
    query = message.text.strip()
    if len(query) > 64:
        await message.reply_text(context.texts.search_too_long)
        return Step.RECIPIENTS
    draft.query, draft.page = query, 0
    await _send_picker(update, context, draft)
    return Step.RECIPIENTS


# ----- step 4: review ---------------------------------------------------------------------


async def _summary(context: HeraldContext, draft: Draft) -> tuple[Markup, int]:
    """The review summary text and the number of people it would reach."""
    texts = context.texts
    selection = draft.selection
    lines: list[Markup] = []
    async with context.services.sessions() as session:
        reach = await audience.reach(session, selection)
        if selection.everyone:
            lines.append(html(texts.summary_everyone, n=reach.reachable))
        else:
            for item in await streams.with_counts(session, include_archived=True):
                if item.stream.id in selection.stream_ids:
                    lines.append(html(texts.summary_line, name=item.stream.title, n=item.reachable))
            if selection.no_stream:
                no_stream = await audience.reach(session, audience.Selection(no_stream=True))
                lines.append(
                    html(texts.summary_line, name=texts.pick_no_stream, n=no_stream.reachable)
                )
        if selection.user_ids:
            picked = await audience.reach(session, audience.Selection(user_ids=selection.user_ids))
            lines.append(html(texts.summary_line, name=texts.summary_picked, n=picked.reachable))
    title = html(texts.summary_title, will_get=texts.plural(texts.will_get, reach.reachable))
    assert draft.content is not None
    if chosen := options_line(texts, draft.content.options):
        lines.append(chosen)
    shown = await _shown_as(context, draft)
    if shown is not None:
        lines.append(html(texts.personal_shown_as, name=shown[0]))
    tail = [_left_out(texts, reach).lstrip("\n")] if reach.blocked or reach.not_started else []
    return fit([title], lines, more(texts), tail, limit=SUMMARY_LIMIT), reach.reachable


async def _shown_as(context: HeraldContext, draft: Draft) -> tuple[str, dict[str, str]] | None:
    """Whose values a personalised preview uses (the first person the draft reaches): their
    name and the values; None when the message is not personalised or reaches nobody."""
    assert draft.content is not None
    if not personalises(draft.content):
        return None
    async with context.services.sessions() as session:
        person = await audience.first_reachable(session, draft.selection)
        if person is None:
            return None
        stream = await streams.get(session, person.stream_id) if person.stream_id else None
    name = full_name(person.first_name, person.last_name) or str(person.id)
    no_stream = context.services.texts.placeholder_no_stream
    return name, values_of(person, stream.title if stream else None, no_stream)


async def _preview(context: HeraldContext, chat_id: int, draft: Draft) -> None:
    """Send the content exactly as students will get it, through the delivery code path, and
    personalised as its first recipient would get it."""
    assert draft.content is not None
    shown = await _shown_as(context, draft)

    async def values(_chat_id: int) -> dict[str, str]:
        return shown[1] if shown is not None else {}

    await make_sender(context.bot, draft.content, values=values)(chat_id)


async def show_review(update: Update, context: HeraldContext, in_place: bool = False) -> Step:
    """Shows the exact preview, and under it the summary with the review actions.

    When the content was already previewed and the admin came back by a tap (recipients
    chosen again, Back from the confirmation), the tapped message becomes the summary and
    nothing new is posted.
    """
    draft = draft_of(context)
    draft.reviewing = True
    draft.step = Step.REVIEW
    assert draft.content is not None
    chat = chat_of(update)
    text, _ = await _summary(context, draft)
    markup = keyboards.review(context.texts, draft.id, draft.content.options)
    query = update.callback_query
    if in_place and query is not None and draft.previewed == draft.content:
        await redraw(query, text, markup)
        return Step.REVIEW
    await _preview(context, chat.id, draft)
    draft.previewed = draft.content
    await chat.send_message(text, reply_markup=markup)
    return Step.REVIEW


async def review_tap(update: Update, context: HeraldContext) -> Step | int | None:
    """Receives a review action: send, edit message/buttons/recipients, test, cancel."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query = update.callback_query
    assert query is not None and draft.content is not None
    texts = context.texts
    action = data.action
    if action is ComposeAction.SEND:
        text, reachable = await _summary(context, draft)
        if reachable == 0:
            await query.answer(texts.pick_nobody, show_alert=True)
            return Step.REVIEW
        await query.answer()
        draft.step = Step.CONFIRM
        question = html(texts.confirm_question, people=texts.plural(texts.people_to, reachable))
        await redraw(query, join([text, question], "\n\n"), keyboards.confirm(texts, draft.id))
        return Step.CONFIRM
    await query.answer(texts.test_sent if action is ComposeAction.TEST else None)
    if action in TOGGLES:
        return await _flip_option(update, context, draft, action)
    if action is ComposeAction.EDIT_MESSAGE:
        await chat_of(update).send_message(
            texts.ask_content_again,
            reply_markup=keyboards.cancel_only(texts, draft.id),
        )
        return Step.CONTENT
    if action is ComposeAction.EDIT_BUTTONS:
        await _ask_buttons(update, context, draft)
        return Step.BUTTONS
    if action is ComposeAction.EDIT_RECIPIENTS:
        draft.query, draft.page = "", 0
        await _edit_picker(update, context, draft)
        return Step.RECIPIENTS
    if action is ComposeAction.TEST:
        await _preview(context, chat_of(update).id, draft)
    return Step.REVIEW


TOGGLES = (ComposeAction.SILENT, ComposeAction.PROTECT, ComposeAction.PREVIEW)


async def _flip_option(
    update: Update, context: HeraldContext, draft: Draft, action: ComposeAction
) -> Step:
    """Flip one delivery option. Only the link preview changes how the message looks, so only
    that one (on a text) posts a fresh preview; the others redraw the summary in place."""
    assert draft.content is not None
    options = draft.content.options
    flipped = {
        ComposeAction.SILENT: replace(options, silent=not options.silent),
        ComposeAction.PROTECT: replace(options, protected=not options.protected),
        ComposeAction.PREVIEW: replace(options, preview=not options.preview),
    }[action]
    looks_same = action is not ComposeAction.PREVIEW or draft.content.kind is not MessageKind.TEXT
    draft.content = draft.content.with_options(flipped)
    if looks_same and draft.previewed is not None:
        draft.previewed = draft.previewed.with_options(flipped)
    return await show_review(update, context, in_place=True)


async def confirm_tap(update: Update, context: HeraldContext) -> Step | int | None:
    """Receives "Yes, send" or "Back"; on yes stores the message and starts delivery."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query = update.callback_query
    user = update.effective_user
    assert query is not None and user is not None and draft.content is not None
    texts = context.texts
    if data.action is ComposeAction.BACK:
        await query.answer()
        return await show_review(update, context, in_place=True)
    progress = query.message
    assert isinstance(progress, Message)
    broadcaster = context.services.broadcaster
    message = await broadcaster.send_now(
        user.id, draft.content, draft.selection, progress.chat_id, progress.message_id
    )
    if message is None:
        await query.answer(texts.pick_nobody, show_alert=True)
        return Step.CONFIRM
    await query.answer()
    await _drop_draft(context, update)
    return END


# ----- scheduling (the when-steps are shared with moving a queued message) --------------------


async def _schedule_back(update: Update, context: HeraldContext, draft: Draft) -> int:
    return await show_review(update, context)


async def _scheduled(
    update: Update, context: HeraldContext, draft: Draft, reading: Reading, zone: str
) -> int:
    """The time is confirmed: store the message and its dispatch, tell the admin."""
    user = update.effective_user
    assert user is not None and draft.content is not None and context.user_data is not None
    texts = context.texts
    services = context.services
    message = await services.dispatcher.schedule(
        user.id, draft.content, draft.selection, reading.utc
    )
    when_text = display.when(reading.utc, zone, texts, services.clock())
    await chat_of(update).send_message(html(texts.scheduled_ok, when=when_text, id=message.id))
    await _drop_draft(context, update)
    return END


def _compose_draft(user_data: UserData) -> Draft | None:
    return user_data.draft


SCHEDULING = when.WhenFlow(
    Step.WHEN, Step.WHEN_CONFIRM, _compose_draft, _schedule_back, _scheduled, repeatable=True
)


# ----- repeating ------------------------------------------------------------------------------


async def open_repeat(update: Update, context: HeraldContext) -> Step | None:
    """Receives "Repeat" on the time confirmation; the same message becomes the Repeat screen."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, _ = found
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    if draft.when is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return None
    await query.answer()
    zone = await when.admin_zone(context, user.id)
    repeat.start(draft, zone)
    draft.step = Step.REPEAT
    await redraw(query, *repeat.screen(context.texts, draft, zone))
    return Step.REPEAT


async def repeat_tap(update: Update, context: HeraldContext) -> Step | int | None:
    """Receives a frequency, a weekday, No end, "Schedule series" or Back."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None and draft.when is not None
    texts = context.texts
    zone = await when.admin_zone(context, user.id)
    if data.action is ComposeAction.BACK:
        await query.answer()
        draft.repeat = None
        return await when.confirm(SCHEDULING, update, context, draft, draft.when)
    if data.action is ComposeAction.SERIES_OK:
        return await _schedule_series(update, context, draft, zone)
    if not repeat.change(draft, data, zone):
        await query.answer(texts.repeat_one_day)
        return None
    await query.answer()
    await redraw(query, *repeat.screen(texts, draft, zone))
    return Step.REPEAT


async def repeat_typed(update: Update, context: HeraldContext) -> Step:
    """Receives an end: a number of times, or a last date."""
    message, user = update.effective_message, update.effective_user
    assert message is not None and message.text is not None and user is not None
    draft = draft_of(context)
    assert draft.repeat is not None and draft.when is not None
    texts = context.texts
    zone = await when.admin_zone(context, user.id)
    first_day = to_local(draft.when.utc, zone).date()
    try:
        end = parse_end(message.text, to_local(context.services.clock(), zone).date())
    except EndError as error:
        await message.reply_text(texts.repeat_end_problems[error.problem])
        return Step.REPEAT
    if isinstance(end, int):
        draft.repeat = draft.repeat.with_end(None, end)
    elif end < first_day:
        await message.reply_text(texts.repeat_end_problems["before_first"])
        return Step.REPEAT
    else:
        draft.repeat = draft.repeat.with_end(end, None)
    text, markup = repeat.screen(texts, draft, zone)
    await message.chat.send_message(text, reply_markup=markup)
    return Step.REPEAT


async def _schedule_series(
    update: Update, context: HeraldContext, draft: Draft, zone: str
) -> int | None:
    query, user = update.callback_query, update.effective_user
    assert query is not None and user is not None
    assert draft.repeat is not None and draft.when is not None and draft.content is not None
    texts = context.texts
    services = context.services
    now = services.clock()
    if draft.when.utc <= now:
        await query.answer(texts.time_problems[Problem.PAST.value], show_alert=True)
        return None
    await query.answer()
    made, first = await services.dispatcher.schedule_series(
        user.id, draft.content, draft.selection, draft.when.utc, draft.repeat, zone
    )
    await redraw(
        query,
        html(
            texts.series_scheduled,
            rule=repeat.describe(texts, draft.repeat),
            when=display.when(draft.when.utc, zone, texts, now),
            id=first.id,
            series=made.id,
        ),
        None,
    )
    await _drop_draft(context, update)
    return END


async def schedule(update: Update, context: HeraldContext) -> int | None:
    """Receives "Schedule" on the review; asks when."""
    found = await tapped(update, context)
    if found is None:
        return None
    assert update.callback_query is not None
    await update.callback_query.answer()
    return await when.ask(SCHEDULING, update, context, found[0])


def hint(
    say: Callable[[Texts], str],
) -> Callable[[Update, HeraldContext], Coroutine[Any, Any, None]]:
    """A handler for input a step does not take: it says what to do and keeps the step."""

    async def reply(update: Update, context: HeraldContext) -> None:
        if update.effective_message is not None:
            await update.effective_message.reply_text(say(context.texts))

    return reply


async def from_history(update: Update, context: HeraldContext) -> Step | int:
    """Receives "Use as new draft" on a history card; opens the review with that content."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    message_id = HistoryCb.unpack(query.data).message_id
    async with context.services.sessions() as session:
        message = await messages.get(session, message_id)
    if message is None:
        await query.answer(context.texts.menu_expired, show_alert=True)
        return END
    await query.answer()
    draft = Draft(
        content=Content.of(message), selection=audience.Selection.from_json(message.selection)
    )
    await _hold_draft(context, update, draft)
    return await show_review(update, context)


async def for_person(update: Update, context: HeraldContext) -> Step:
    """Receives "Message this person" on a card; starts a draft addressed to them."""
    query = update.callback_query
    assert query is not None and query.data is not None and context.user_data is not None
    await query.answer()
    person = PeopleCb.unpack(query.data).user_id
    selection = audience.Selection(user_ids=frozenset({person}))
    return await _start(update, context, Draft(selection=selection, preselected=True))


# ----- leaving --------------------------------------------------------------------------------


async def cancel(update: Update, context: HeraldContext) -> int:
    """Receives /cancel or the Cancel button at any step; drops the draft."""
    if update.callback_query is not None:
        if await tapped(update, context) is None:
            return END
        await update.callback_query.answer()
    await _drop_draft(context, update)
    await chat_of(update).send_message(context.texts.compose_cancelled)
    return END


async def timed_out(update: Update, context: HeraldContext) -> None:
    """Runs when the conversation sat idle too long; tells the admin the draft is gone."""
    if isinstance(update, Update):
        await _drop_draft(context, update)
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None:
        idle = duration(context.texts, context.services.conversation_timeout)
        await chat.send_message(html(context.texts.compose_timed_out, idle=idle))


async def stale_tap(update: Update, context: HeraldContext) -> None:
    """Receives a compose button that does not belong to the current step."""
    if update.callback_query is not None:
        await update.callback_query.answer(context.texts.menu_expired, show_alert=True)


# ----- a draft in the way of another command --------------------------------------------------


async def guard(update: Update, context: HeraldContext) -> None:
    """Another command (or /send, "New message"...) while a draft is open: ask before anything
    is lost, and run nothing yet."""
    assert context.user_data is not None
    draft = context.user_data.draft
    chat = chat_of(update)
    if draft is None:
        return
    texts = context.texts
    command = _command_of(update)
    context.user_data.after_discard = command
    where = texts.draft_steps[str(draft.step)]
    if update.callback_query is not None:
        await update.callback_query.answer()
    await chat.send_message(
        html(texts.draft_guard, where=where, command=command or texts.draft_guard_other),
        reply_markup=keyboards.draft_guard(texts, draft.id),
    )


def _command_of(update: Update) -> str:
    message = update.effective_message
    if update.callback_query is None and message is not None and message.text:
        return echo(message.text.split()[0], 32)
    return ""


async def guard_tap(update: Update, context: HeraldContext) -> int | None:
    """Receives Continue (the current step again) or Discard (the draft goes; the admin sends
    their command again)."""
    found = await tapped(update, context)
    if found is None:
        return None
    draft, data = found
    query = update.callback_query
    assert query is not None and context.user_data is not None
    await query.answer()
    if data.action is ComposeAction.DISCARD:
        command = context.user_data.after_discard
        await _drop_draft(context, update)
        texts = context.texts
        text = html(texts.draft_discarded_then, command=command) if command else None
        await redraw(query, text or texts.compose_cancelled, None)
        return END
    await redraw(query, context.texts.draft_continued, None)
    return await show_step(update, context, draft)


async def show_step(update: Update, context: HeraldContext, draft: Draft) -> int:
    """The draft's current step, asked again at the bottom of the chat."""
    step = Step(draft.step)
    if step is Step.CONTENT or draft.content is None:
        return await _start(update, context, draft)
    if step is Step.BUTTONS:
        await _ask_buttons(update, context, draft)
        return Step.BUTTONS
    if step is Step.RECIPIENTS:
        await _send_picker(update, context, draft)
        return Step.RECIPIENTS
    if step in (Step.WHEN, Step.WHEN_CONFIRM, Step.REPEAT):
        draft.repeat = None
        return await when.ask(SCHEDULING, update, context, draft)
    return await show_review(update, context)


def conversation(timeout: float) -> ConversationHandler[HeraldContext]:
    """/send: the message, buttons, recipients, review, and optionally when; /cancel at every
    step. While a draft is open, any other command (and /send itself) asks first."""
    act = ComposeAction
    text = filters.TEXT & ~filters.COMMAND
    other = ~filters.COMMAND & ~filters.TEXT
    in_the_way: list[BaseHandler[Update, HeraldContext, object]] = [
        MessageHandler(commands.OTHER_THAN_CANCEL, guard),
        CallbackQueryHandler(guard, pattern=MenuCb(MenuAction.SEND).pack()),
        CallbackQueryHandler(
            guard, pattern=HistoryCb.matches(lambda d: d.action is HistoryAction.DRAFT)
        ),
        CallbackQueryHandler(
            guard, pattern=PeopleCb.matches(lambda d: d.action is PeopleAction.MESSAGE)
        ),
        CallbackQueryHandler(guard_tap, pattern=actions(act.CONTINUE, act.DISCARD)),
    ]

    def step(*handlers: BaseHandler[Update, HeraldContext, object]) -> list[Any]:
        return [*handlers, *in_the_way]

    with warnings.catch_warnings():
        # per_message=False is deliberate: drafts carry their own id in callback data.
        warnings.filterwarnings("ignore", message=".*per_message.*")
        return ConversationHandler(
            entry_points=[
                CommandHandler(commands.SEND, begin),
                CallbackQueryHandler(begin, pattern=MenuCb(MenuAction.SEND).pack()),
                CallbackQueryHandler(
                    from_history,
                    pattern=HistoryCb.matches(lambda d: d.action is HistoryAction.DRAFT),
                ),
                CallbackQueryHandler(
                    for_person,
                    pattern=PeopleCb.matches(lambda d: d.action is PeopleAction.MESSAGE),
                ),
            ],
            states={
                Step.CONTENT: step(MessageHandler(~filters.COMMAND, got_content)),
                Step.BUTTONS: step(
                    MessageHandler(text, got_buttons),
                    MessageHandler(other, hint(lambda t: t.buttons_need_text)),
                    CallbackQueryHandler(skip_buttons, pattern=actions(act.SKIP_BUTTONS)),
                ),
                Step.RECIPIENTS: step(
                    MessageHandler(text, got_search),
                    MessageHandler(other, hint(lambda t: t.pick_use_buttons)),
                    CallbackQueryHandler(
                        picker_tap,
                        pattern=actions(
                            act.STREAM,
                            act.NO_STREAM,
                            act.EVERYONE,
                            act.FIND,
                            act.PERSON,
                            act.PAGE,
                            act.GROUPS,
                            act.DONE,
                        ),
                    ),
                ),
                Step.REVIEW: step(
                    CallbackQueryHandler(
                        review_tap,
                        pattern=actions(
                            act.SEND,
                            act.EDIT_MESSAGE,
                            act.EDIT_BUTTONS,
                            act.EDIT_RECIPIENTS,
                            act.TEST,
                            *TOGGLES,
                        ),
                    ),
                    CallbackQueryHandler(schedule, pattern=actions(act.SCHEDULE)),
                    MessageHandler(~filters.COMMAND, hint(lambda t: t.use_buttons_above)),
                ),
                Step.CONFIRM: step(
                    CallbackQueryHandler(confirm_tap, pattern=actions(act.CONFIRM, act.BACK)),
                    MessageHandler(~filters.COMMAND, hint(lambda t: t.use_buttons_above)),
                ),
                Step.WHEN: step(
                    MessageHandler(text, when.typed(SCHEDULING)),
                    MessageHandler(other, hint(lambda t: t.time_problems["unreadable"])),
                    CallbackQueryHandler(
                        when.tap(SCHEDULING), pattern=actions(act.QUICK_TIME, act.BACK)
                    ),
                ),
                Step.WHEN_CONFIRM: step(
                    MessageHandler(text, when.typed(SCHEDULING)),
                    MessageHandler(other, hint(lambda t: t.use_buttons_above)),
                    CallbackQueryHandler(
                        when.tap(SCHEDULING),
                        pattern=actions(act.SCHEDULE_OK, act.OTHER_TIME, act.BACK),
                    ),
                    CallbackQueryHandler(open_repeat, pattern=actions(act.REPEAT)),
                ),
                Step.REPEAT: step(
                    MessageHandler(text, repeat_typed),
                    MessageHandler(other, hint(lambda t: t.use_buttons_above)),
                    CallbackQueryHandler(
                        repeat_tap,
                        pattern=actions(
                            act.FREQUENCY, act.WEEKDAY, act.NO_END, act.SERIES_OK, act.BACK
                        ),
                    ),
                ),
                ConversationHandler.TIMEOUT: [TypeHandler(Update, timed_out)],
            },
            fallbacks=[
                CommandHandler(commands.CANCEL, cancel),
                CallbackQueryHandler(cancel, pattern=actions(act.CANCEL)),
                CallbackQueryHandler(stale_tap, pattern=ComposeCb.matches()),
            ],
            conversation_timeout=timeout,
            name="compose",
        )


def handlers(timeout: float) -> Handlers:
    return [conversation(timeout)]
