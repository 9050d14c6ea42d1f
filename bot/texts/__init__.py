"""User-facing text: one catalog per language, chosen in the config."""

from bot.texts import en, ru
from bot.texts.catalog import Plural, Texts

CATALOGS: dict[str, Texts] = {"en": en.TEXTS, "ru": ru.TEXTS}


def catalog(language: str) -> Texts:
    return CATALOGS[language]


__all__ = ["CATALOGS", "Plural", "Texts", "catalog"]
