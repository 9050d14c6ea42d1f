"""my_chat_member updates: a person blocked or unblocked the bot."""

from __future__ import annotations

from telegram import ChatMember, Update
from telegram.ext import ChatMemberHandler

from bot.access import contact_of
from bot.context import Handlers, HeraldContext
from db.repo import users


async def chat_member(update: Update, context: HeraldContext) -> None:
    """Receives a private chat's membership change; marks the person blocked or reachable."""
    change = update.my_chat_member
    contact = contact_of(update)
    if change is None or contact is None or change.chat.type != change.chat.PRIVATE:
        return
    if context.services.is_admin(contact.id):
        return
    status = change.new_chat_member.status
    if status not in (ChatMember.BANNED, ChatMember.MEMBER):
        return
    services = context.services
    async with services.sessions.begin() as session:
        await users.set_blocked(session, contact, status == ChatMember.BANNED, services.clock())


def handlers() -> Handlers:
    return [ChatMemberHandler(chat_member, ChatMemberHandler.MY_CHAT_MEMBER)]
