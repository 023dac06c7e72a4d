"""Relance plugin 'quickbooks' (work in progress: registers nothing yet)."""
