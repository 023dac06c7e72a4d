"""Relance plugin 'xero' (work in progress: registers nothing yet)."""
