"""Relance plugin 'letter_pdf' (work in progress: registers nothing yet)."""
