"""What an admin has in progress (a draft, an import), kept in their typed `user_data`."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.delivery.content import Content
from bot.parsing.people_csv import ParsedFile
from bot.scheduling.recurrence import Rule
from bot.scheduling.timeparse import Reading
from bot.texts import Texts
from db.repo.audience import Selection

if TYPE_CHECKING:
    from bot.handlers.stream_edit import StreamEdit


@dataclass
class Draft:
    """Everything chosen so far; `id` goes into callback data so old menus can be told apart."""

    id: str = field(default_factory=lambda: secrets.token_hex(3))
    content: Content | None = None
    selection: Selection = field(default_factory=Selection)
    query: str = ""
    page: int = 0
    reviewing: bool = False
    when: Reading | None = None
    rescheduling: int | None = None  # the queued message whose time is being changed
    preselected: bool = False  # recipients came with the draft: skip the picker
    step: int = 1  # the conversation state the draft is at, to resume it after a detour
    previewed: Content | None = None  # the content last shown as a preview
    repeat: Rule | None = None  # a repeating schedule being set up on the "Repeat" screen


@dataclass
class EditDraft:
    """An edit for everyone in progress: the broadcast, how it reads now, and the new version."""

    parent_id: int
    current: Content
    new: Content | None = None
    replaces_file: bool = False
    step: int = 1  # the conversation state, so a button left on an earlier step is refused
    based_on: int = 0  # the last edit run when this one began (0: none): see open_run
    settled: bool = True  # every copy reads as `current` (no edit was left half done)
    id: str = field(default_factory=lambda: secrets.token_hex(3))


@dataclass
class PendingImport:
    """A checked import file waiting for Apply; `token` is in the buttons."""

    parsed: ParsedFile
    token: str = field(default_factory=lambda: secrets.token_hex(3))


class UserData:
    """Typed `user_data`: PTB creates one per person."""

    def __init__(self) -> None:
        self.draft: Draft | None = None
        self.pending_import: PendingImport | None = None
        self.people_query: str = ""
        self.searching_people = False  # /users is open: a typed text is a search
        self.texts: Texts | None = None  # an admin's own language, set on each update
        self.draft_checked = False  # whether a draft lost in a restart was looked for
        self.stream_edit: StreamEdit | None = None
        self.reschedule: Draft | None = None
        self.amend: EditDraft | None = None  # an edit for everyone in progress
        self.replying_to: int | None = None  # the student a reply being written goes to
        self.replying_since = 0.0  # monotonic: an idle prompt ends after the flow timeout
        self.series_text: int | None = None  # the series whose new text is asked for
        self.series_text_since = 0.0
        self.after_discard: str = ""  # the command a draft was in the way of
        self.last_album: str | None = None

    def first_of_album(self, media_group_id: str | None) -> bool:
        """False for the second and later items of an album: one answer per album, not per item."""
        if media_group_id is None:
            return True
        first = media_group_id != self.last_album
        self.last_album = media_group_id
        return first
