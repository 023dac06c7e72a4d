"""Relance core: the hub that syncs ledgers, plans reminders and sends them through plugins."""

__version__ = "0.1.0"
