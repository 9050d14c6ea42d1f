"""Delivery: plain async code that sends one stored message to its recipients and records it."""
