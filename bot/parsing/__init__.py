"""Pure parsers for what admins type."""
