"""Relance plugin 'task' (work in progress: registers nothing yet)."""
