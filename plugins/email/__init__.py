"""Relance plugin 'email' (work in progress: registers nothing yet)."""
