"""Relance plugin 'stripe' (work in progress: registers nothing yet)."""
