"""Which catalog each admin reads: their own choice (/language), else the language of their
Telegram app when Herald has it, else the bot's configured language."""

from __future__ import annotations

from bot.texts import CATALOGS, Texts, catalog


def supported(code: str | None) -> str | None:
    """The catalog for a Telegram language_code (`ru`, `en-GB`), or None."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in CATALOGS else None


class Languages:
    """Per-admin languages in memory; the choices are kept in admin_settings and loaded once."""

    def __init__(self, default: str) -> None:
        self.default = default
        self._chosen: dict[int, str] = {}
        self._app: dict[int, str] = {}

    def load(self, chosen: dict[int, str], app: dict[int, str]) -> None:
        """What the database remembers, at start-up (before any admin has written)."""
        self._chosen = {k: v for k, v in chosen.items() if v in CATALOGS}
        self._app = {k: v for k, v in app.items() if v in CATALOGS}

    def seen(self, user_id: int, language_code: str | None) -> str | None:
        """Remember the language of the admin's Telegram app, as each update tells it; the
        catalog it maps to, if any."""
        found = supported(language_code)
        if found is not None:
            self._app[user_id] = found
        return found

    def choose(self, user_id: int, language: str | None) -> None:
        """An admin's own choice; None goes back to following their Telegram app."""
        if language is None:
            self._chosen.pop(user_id, None)
        else:
            self._chosen[user_id] = language

    def chosen(self, user_id: int) -> str | None:
        """The admin's own choice, if they made one."""
        return self._chosen.get(user_id)

    def source(self, user_id: int) -> str:
        """Where an admin's language comes from: `chosen`, `app` or `default`."""
        if user_id in self._chosen:
            return "chosen"
        return "app" if user_id in self._app else "default"

    def of(self, user_id: int) -> str:
        """The language Herald speaks to this admin."""
        return self._chosen.get(user_id) or self._app.get(user_id) or self.default

    def texts_for(self, user_id: int) -> Texts:
        """The catalog Herald speaks to this admin in."""
        return catalog(self.of(user_id))
