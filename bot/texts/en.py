"""English catalog."""

from bot.texts.catalog import Plural, Texts

TEXTS = Texts(
    language="en",
    welcome_default="Hello! You are subscribed to course announcements.",
    student_text_reply="This bot delivers course announcements; messages sent here are not read.",
    admin_only="This command is for course administrators only.",
    admin_only_alert="Administrators only.",
    menu_expired="This menu has expired. Open a new one with /start.",
    admin_menu="<b>Herald</b>: what would you like to do?",
    menu_streams="📚 Streams",
    menu_back="⬅️ Menu",
    cmd_start="Main menu",
    cmd_streams="Streams, members and invite links",
    streams_title="<b>Streams</b>",
    streams_empty="No streams yet. Add them under [[streams]] in the config.",
    stream_line="<b>{title}</b> (<code>{code}</code>): {members}{blocked}\nInvite: {link}",
    stream_archived=" (archived)",
    no_stream_line="<b>No stream</b>: {members}{blocked}",
    members=Plural(one="{n} member", other="{n} members"),
    blocked_people=Plural(one=", {n} blocked the bot", other=", {n} blocked the bot"),
    error_notice="⚠️ Something went wrong while handling an update; details are in the bot's log.",
)
