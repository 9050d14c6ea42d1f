"""The shape every language's catalog fills in, and plural selection by Babel's CLDR rules."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from babel import Locale
from babel.numbers import format_decimal


@lru_cache(maxsize=4)
def _locale(language: str) -> Locale:
    return Locale.parse(language)


@dataclass(frozen=True, slots=True)
class Plural:
    """Forms of one phrase; `{n}` is the count. Languages fill the CLDR forms they use."""

    one: str
    other: str
    few: str | None = None
    many: str | None = None


@dataclass(frozen=True, slots=True)
class Texts:
    """Every user-facing string; a language that misses one fails type-checking."""

    language: str
    # students
    welcome_default: str
    student_text_reply: str
    # access
    admin_only: str
    admin_only_alert: str
    private_only: str
    menu_expired: str
    # admin menu
    admin_menu: str
    menu_streams: str
    menu_back: str
    menu_send: str
    nothing_to_cancel: str
    # commands (set_my_commands descriptions)
    cmd_start: str
    cmd_send: str
    cmd_streams: str
    cmd_cancel: str
    # shared buttons and words
    button_cancel: str
    button_back: str
    button_skip: str
    people: Plural
    people_to: Plural
    picked: Plural
    will_get: Plural
    use_buttons_above: str
    # compose: message and buttons
    ask_content: str
    ask_content_again: str
    content_unsupported: str
    content_empty: str
    content_too_long: str
    ask_buttons: str
    buttons_current: str
    buttons_need_text: str
    buttons_error: str
    button_problems: Mapping[str, str]
    # compose: recipients
    pick_title: str
    pick_all_but: str
    pick_blocked: str
    pick_not_started: str
    pick_hint: str
    pick_no_stream: str
    pick_everyone: str
    pick_find: str
    pick_groups: str
    pick_done: str
    pick_nobody: str
    pick_use_buttons: str
    ask_search: str
    search_results: str
    search_nothing: str
    search_too_long: str
    # compose: review
    review_preview_above: str
    summary_title: str
    summary_line: str
    summary_everyone: str
    summary_picked: str
    review_send: str
    review_edit_message: str
    review_edit_buttons: str
    review_edit_recipients: str
    review_test: str
    option_silent: str
    option_protected: str
    option_preview: str
    option_names: Mapping[str, str]
    options_line: str
    placeholder_no_stream: str
    placeholder_bad: str
    personal_shown_as: str
    test_sent: str
    confirm_question: str
    confirm_yes: str
    draft_steps: Mapping[str, str]
    draft_guard: str
    draft_guard_other: str
    draft_continue: str
    draft_discard: str
    draft_continued: str
    draft_discarded_then: str
    compose_cancelled: str
    compose_timed_out: str
    # delivery
    progress_starting: str
    progress_preparing: str
    run_header: str
    run_kinds: Mapping[str, str]
    progress_stopping: str
    report_sending: str
    telegram_errors: Mapping[str, str]
    button_resend: Plural
    button_to_report: str
    delivery_stopping_paused: str
    progress_title: str
    progress_rate: str
    progress_paused: str
    button_stop: str
    delivery_stopping: str
    delivery_not_running: str
    report_done: str
    report_stopped: str
    report_failed: str
    report_delivered: str
    report_counts: str
    report_not_tried: str
    report_resumed: str
    report_duration: str
    button_failures: str
    button_retry: str
    retry_nothing: str
    retry_doubt: str
    retry_all: str
    retry_surely: str
    failures_title: str
    failures_none: str
    status_names: Mapping[str, str]
    duration_seconds: str
    duration_minutes: str
    duration_whole_minutes: str
    duration_hours: str
    # scheduling
    review_schedule: str
    ask_when: str
    quick_in_hour: str
    quick_today_18: str
    quick_tomorrow_9: str
    quick_tomorrow_18: str
    when_format: str
    confirm_schedule: str
    ambiguous_note: str
    time_problems: Mapping[str, str]
    button_schedule_ok: str
    button_other_time: str
    scheduled_ok: str
    scheduled_title: str
    scheduled_empty: str
    scheduled_entry: str
    sched_preview: str
    sched_send: str
    sched_reschedule: str
    sched_cancel: str
    sched_confirm_cancel: str
    sched_confirm_send: str
    sched_yes_cancel: str
    sched_yes_send: str
    sched_cancelled: str
    sched_gone: str
    rescheduled: str
    reschedule_kept: str
    reschedule_timed_out: str
    ask_new_time: str
    missed_notice: str
    nobody_at_dispatch: str
    recipients_everyone: str
    recipients_picked: Plural
    message_status_names: Mapping[str, str]
    tz_show: str
    tz_set: str
    tz_unknown: str
    menu_scheduled: str
    cmd_scheduled: str
    cmd_timezone: str
    cmd_language: str
    tz_ambiguous: str
    language_title: str
    language_from: Mapping[str, str]
    language_auto: str
    language_names: Mapping[str, str]
    draft_lost: str
    # history, stats, audit
    history_title: str
    history_filters: str
    history_empty: str
    history_empty_filtered: str
    history_entry: str
    history_line: str
    history_hint: str
    history_only_failed: str
    history_filters_title: str
    button_filters: str
    filter_failed: str
    button_done: str
    target_everyone: str
    kind_names: Mapping[str, str]
    media_names: Mapping[str, str]
    """What a file without a caption is called in lists, by message kind."""
    kind_one: Mapping[str, str]
    filter_all: str
    recipients: Plural
    card_words: str
    card_preview: str
    card_back_to: str
    author_unknown: str
    card_title: str
    card_author: str
    card_times: str
    card_recipients: str
    card_counts: str
    time_none: str
    card_not_reached: str
    card_draft: str
    card_export: str
    card_back: str
    export_caption: str
    stats_title: str
    period_names: Mapping[str, str]
    stats_audience: str
    stats_line: str
    stats_messaging: str
    stats_failures: str
    stats_per_stream: str
    stats_rate_line: str
    audit_title: str
    audit_entry: str
    audit_message: str
    audit_person: str
    audit_renamed: str
    audit_empty: str
    action_names: Mapping[str, str]
    menu_history: str
    menu_stats: str
    menu_audit: str
    cmd_history: str
    cmd_stats: str
    cmd_audit: str
    # people, import, export, stream management
    import_title: str
    import_counts: str
    import_counts_bad: str
    import_lines: Plural
    import_unknown_stream: str
    import_problems: str
    import_line: str
    import_row_problems: Mapping[str, str]
    import_file_problems: Mapping[str, str]
    import_ready: str
    import_not_ready: str
    import_dry_run_cli: str
    import_not_csv: str
    button_apply: str
    import_checking: str
    import_download_failed: str
    import_busy: str
    import_applying: str
    import_failed: str
    import_done: str
    import_cancelled: str
    export_people_caption: str
    users_title: str
    users_hint: str
    users_results: str
    users_nothing: str
    users_export: str
    person_card: str
    person_last: str
    person_last_line: str
    person_status: Mapping[str, str]
    person_remove: str
    person_message: str
    person_back: str
    people_found: Plural
    person_moved_to: str
    person_removed: str
    person_undone: str
    person_undo: str
    stream_rename: str
    stream_archive: str
    stream_restore: str
    stream_add_cancelled: str
    stream_rename_cancelled: str
    stream_edit_timed_out: str
    stream_busy_add: str
    stream_busy_rename: str
    reschedule_busy: str
    stream_prompt_hint: str
    stream_add: str
    ask_stream_code: str
    stream_code_bad: str
    stream_code_taken: str
    ask_stream_title: str
    ask_stream_rename: str
    stream_title_bad: str
    stream_added: str
    stream_renamed: str
    stream_archive_confirm: str
    stream_archived_done: str
    stream_restored: str
    button_archive: str
    menu_users: str
    cmd_users: str
    # streams
    streams_title: str
    streams_empty: str
    stream_line: str
    stream_archived: str
    no_stream_line: str
    members: Plural
    blocked_people: Plural
    more_items: Plural
    more_streams: Plural
    buttons_kept: str
    # errors
    error_notice: str
    # edit, delete, pin and unpin for everyone
    everyone_names: Mapping[str, str]
    everyone_progress: Mapping[str, str]
    everyone_report: Mapping[str, str]
    everyone_done: Mapping[str, str]
    everyone_buttons: Mapping[str, str]
    everyone_ask: Mapping[str, str]
    everyone_yes: Mapping[str, str]
    everyone_refused: Mapping[str, str]
    everyone_too_old_button: str
    everyone_too_old: str
    button_continue: Plural
    button_everyone: str
    card_edited: Plural
    card_deleted: str
    card_pinned: str
    card_running: str
    edit_ask_text: str
    edit_ask_caption: str
    edit_ask_voice_caption: str
    edit_voice_file: str
    everyone_not_tried: str
    everyone_resumed: str
    edit_keep_text: str
    edit_ask_buttons: str
    edit_keep_buttons: str
    edit_no_buttons: str
    edit_summary: str
    edit_confirm: str
    edit_again: str
    edit_nothing: str
    edit_not_a_file: str
    edit_no_such_file: str
    edit_cancelled: str
    edit_timed_out: str
    edit_busy: str
    audit_edited: str
    # students' messages and replies
    cmd_inbox: str
    inbox_header_prefix: str
    inbox_header: str
    inbox_answers: str
    inbox_ack: str
    inbox_flood: str
    inbox_button_reply: str
    inbox_button_person: str
    inbox_button_done: str
    inbox_off: str
    inbox_title: str
    inbox_empty: str
    inbox_entry: str
    inbox_line: str
    inbox_back: str
    inbox_nothing_open: str
    inbox_closed: Plural
    reply_ask: str
    reply_sent: str
    reply_blocked: str
    reply_failed: str
    reply_cancelled: str
    reply_busy: str
    reply_timed_out: str
    stats_replies: str
    # repeating schedules
    button_repeat: str
    repeat_daily: str
    repeat_weekly: str
    repeat_monthly: str
    repeat_no_end: str
    repeat_ok: str
    repeat_one_day: str
    repeat_title: str
    repeat_rule: str
    repeat_hint: str
    repeat_end_problems: Mapping[str, str]
    rule_daily: str
    rule_weekly: str
    rule_monthly: str
    rule_until: str
    rule_month_end: str
    rule_count: Plural
    series_scheduled: str
    series_title: str
    series_line: str
    series_status_names: Mapping[str, str]
    series_skip: str
    series_pause: str
    series_resume: str
    series_text: str
    series_stop: str
    series_yes_stop: str
    series_confirm_stop: str
    series_done: Mapping[str, str]
    series_gone: str
    series_ask_text: str
    series_text_ok: str
    series_text_only: str
    series_text_cancelled: str
    series_text_busy: str

    def decimal(self, value: float) -> str:
        """A number with one decimal, written as the language writes it (3.6 or 3,6)."""
        return format_decimal(round(value, 1), "0.0", locale=self.language)

    def plural(self, phrase: Plural, n: int) -> str:
        """Pick the CLDR form of `phrase` for `n` and substitute the count."""
        return self.form(phrase, n).format(n=n)

    def form(self, phrase: Plural, n: int) -> str:
        """The CLDR form of `phrase` for `n`, unfilled: for phrases that show a list for `{n}`."""
        chosen = getattr(phrase, _locale(self.language).plural_form(n), None)
        return chosen or phrase.other
