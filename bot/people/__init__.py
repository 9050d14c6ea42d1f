"""The audience as admins manage it: CSV import and export."""
