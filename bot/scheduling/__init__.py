"""Scheduling: reading times admins type, and dispatching stored messages when they come due."""
