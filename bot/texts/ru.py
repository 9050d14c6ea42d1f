"""Russian catalog."""

from bot.texts.catalog import Plural, Texts

TEXTS = Texts(
    language="ru",
    welcome_default="Здравствуйте! Вы подписаны на объявления курса.",
    student_text_reply="Этот бот рассылает объявления курса; сообщения здесь не читаются.",
    admin_only="Эта команда только для администраторов курса.",
    admin_only_alert="Только для администраторов.",
    menu_expired="Это меню устарело. Откройте новое командой /start.",
    admin_menu="<b>Herald</b>: что сделать?",
    menu_streams="📚 Потоки",
    menu_back="⬅️ Меню",
    cmd_start="Главное меню",
    cmd_streams="Потоки, участники и ссылки-приглашения",
    streams_title="<b>Потоки</b>",
    streams_empty="Потоков пока нет. Добавьте их в разделе [[streams]] конфигурации.",
    stream_line="<b>{title}</b> (<code>{code}</code>): {members}{blocked}\nПриглашение: {link}",
    stream_archived=" (в архиве)",
    no_stream_line="<b>Без потока</b>: {members}{blocked}",
    members=Plural(
        one="{n} участник", few="{n} участника", many="{n} участников", other="{n} участника"
    ),
    blocked_people=Plural(
        one=", {n} заблокировал бота",
        few=", {n} заблокировали бота",
        many=", {n} заблокировали бота",
        other=", {n} заблокировали бота",
    ),
    error_notice="⚠️ При обработке обновления произошла ошибка; подробности в журнале бота.",
)
