"""Relance plugin 'letter_lob' (work in progress: registers nothing yet)."""
