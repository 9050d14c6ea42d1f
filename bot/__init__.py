"""Herald: an admin-only Telegram bot for course broadcasts."""
