"""Telegram handlers: thin functions that parse input, call a service and render the reply."""
