"""Relance plugin 'handoff' (work in progress: registers nothing yet)."""
