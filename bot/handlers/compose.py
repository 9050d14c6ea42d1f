"""/send: compose a message, add buttons, pick recipients, review the exact preview, send."""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Coroutine
from typing import Any

from markupsafe import Markup
from telegram import Chat, InlineKeyboardMarkup, Message, Update

from bot import keyboards
from bot.callbacks import ComposeAction, ComposeCb, HistoryCb, PeopleCb
from bot.compose import Draft
from bot.context import HeraldContext
from bot.delivery.content import (
    Content,
    ContentTooLong,
    EmptyContent,
    UnsupportedContent,
    content_from_message,
    make_sender,
)
from bot.delivery.views import duration
from bot.handlers.screens import redraw
from bot.parsing.buttons import ButtonError, format_buttons, parse_buttons
from bot.texts import Texts
from bot.texts.render import MESSAGE_LIMIT, echo, fit, html, join, more
from db.repo import audience, messages, streams


class Step(enum.IntEnum):
    CONTENT = 1
    BUTTONS = 2
    RECIPIENTS = 3
    REVIEW = 4
    CONFIRM = 5
    WHEN = 6
    WHEN_CONFIRM = 7
    STREAM_CODE = 8
    STREAM_TITLE = 9
    STREAM_RENAME = 10


END = -1
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
    query = update.callback_query
    draft = context.user_data.draft if context.user_data else None
    if query is None or query.data is None:
        return None
    data = ComposeCb.unpack(query.data)
    if draft is None or data.draft != draft.id:
        await query.answer(context.texts.menu_expired, show_alert=True)
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


async def _start(update: Update, context: HeraldContext, draft: Draft) -> Step:
    """Make `draft` the admin's current one and ask for the message."""
    assert context.user_data is not None
    context.user_data.draft = draft
    texts = context.texts
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
    try:
        content = content_from_message(message)
    except UnsupportedContent:
        await message.reply_text(texts.content_unsupported)
        return Step.CONTENT
    except EmptyContent:
        await message.reply_text(texts.content_empty)
        return Step.CONTENT
    except ContentTooLong as exc:
        await message.reply_text(html(texts.content_too_long, length=exc.length, limit=exc.limit))
        return Step.CONTENT
    draft.content = content.with_buttons(draft.content.buttons if draft.content else ())
    if draft.reviewing:
        return await show_review(update, context)
    await _ask_buttons(update, context, draft)
    return Step.BUTTONS


async def _ask_buttons(update: Update, context: HeraldContext, draft: Draft) -> None:
    texts = context.texts
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
    try:
        rows = parse_buttons(message.text)
    except ButtonError as exc:
        problem = texts.button_problems[exc.problem.value]
        reply = html(texts.buttons_error, line=exc.line, problem=problem) if exc.line else problem
        await message.reply_text(reply)
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
                draft.page * keyboards.PEOPLE_PER_PAGE,
            )
        else:
            counts = await streams.with_counts(session)
            no_stream = await audience.reach(session, audience.Selection(no_stream=True))
            everyone = await audience.reach(session, audience.Selection(everyone=True))
    header = html(texts.pick_title, people=texts.plural(texts.people, reach.reachable))
    header += _left_out(texts, reach)
    if not draft.query:
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
        results = html(texts.search_results, query=echo(draft.query), count=count)
    else:
        results = html(texts.search_nothing, query=echo(draft.query))
    markup = keyboards.people(
        texts, draft.id, found, draft.selection.user_ids, draft.page, pages, reach.reachable
    )
    return join([header, results], "\n\n"), markup


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
    text, markup = await _picker(context, draft)
    await chat_of(update).send_message(text, reply_markup=markup)


async def _edit_picker(update: Update, context: HeraldContext, draft: Draft) -> None:
    query = update.callback_query
    assert query is not None
    text, markup = await _picker(context, draft)
    await redraw(query, text, markup)


def _toggle(selection: audience.Selection, data: ComposeCb) -> audience.Selection:
    """The selection after one tap; picking a single group while "everyone" is on narrows it."""
    action = data.action
    base = selection
    if selection.everyone and action in (ComposeAction.STREAM, ComposeAction.NO_STREAM):
        base = audience.Selection(user_ids=selection.user_ids)
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
        return await show_review(update, context)
    await query.answer()
    if action is ComposeAction.PAGE:
        draft.page = max(0, data.arg)
    elif action is ComposeAction.GROUPS:
        draft.query, draft.page = "", 0
    else:
        draft.selection = _toggle(draft.selection, data)
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
    title = html(texts.summary_title, people=texts.plural(texts.people, reach.reachable))
    tail = [_left_out(texts, reach).lstrip("\n")] if reach.blocked or reach.not_started else []
    return fit([title], lines, more(texts), tail, limit=SUMMARY_LIMIT), reach.reachable


async def _preview(context: HeraldContext, chat_id: int, content: Content) -> None:
    """Send the content exactly as students will get it, through the delivery code path."""
    await make_sender(context.bot, content)(chat_id)


async def show_review(update: Update, context: HeraldContext) -> Step:
    """Shows the exact preview and the summary with the review actions."""
    draft = draft_of(context)
    draft.reviewing = True
    assert draft.content is not None
    chat = chat_of(update)
    await chat.send_message(context.texts.review_preview_above)
    await _preview(context, chat.id, draft.content)
    text, _ = await _summary(context, draft)
    await chat.send_message(text, reply_markup=keyboards.review(context.texts, draft.id))
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
        await query.edit_message_text(
            text
            + "\n\n"
            + html(texts.confirm_question, people=texts.plural(texts.people_to, reachable)),
            reply_markup=keyboards.confirm(texts, draft.id),
        )
        return Step.CONFIRM
    await query.answer(texts.test_sent if action is ComposeAction.TEST else None)
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
        await _send_picker(update, context, draft)
        return Step.RECIPIENTS
    if action is ComposeAction.TEST:
        await _preview(context, chat_of(update).id, draft.content)
    return Step.REVIEW


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
        text, _ = await _summary(context, draft)
        await query.edit_message_text(text, reply_markup=keyboards.review(texts, draft.id))
        return Step.REVIEW
    broadcaster = context.services.broadcaster
    message = await broadcaster.submit(user.id, draft.content, draft.selection)
    if message.total == 0:
        await query.answer(texts.pick_nobody, show_alert=True)
        return Step.CONFIRM
    await query.answer()
    progress = await query.edit_message_text(texts.progress_starting)
    assert isinstance(progress, Message)
    broadcaster.start(message, progress.chat_id, progress.message_id)
    assert context.user_data is not None
    context.user_data.draft = None
    return END


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
    context.user_data.draft = Draft(
        content=Content.of(message), selection=audience.Selection.from_json(message.selection)
    )
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
    if context.user_data is not None:
        context.user_data.draft = None
    await chat_of(update).send_message(context.texts.compose_cancelled)
    return END


async def timed_out(update: Update, context: HeraldContext) -> None:
    """Runs when the conversation sat idle too long; tells the admin the draft is gone."""
    if context.user_data is not None:
        context.user_data.draft = None
    chat = update.effective_chat if isinstance(update, Update) else None
    if chat is not None:
        idle = duration(context.texts, context.services.conversation_timeout)
        await chat.send_message(html(context.texts.compose_timed_out, idle=idle))


async def stale_tap(update: Update, context: HeraldContext) -> None:
    """Receives a compose button that does not belong to the current step."""
    if update.callback_query is not None:
        await update.callback_query.answer(context.texts.menu_expired, show_alert=True)
