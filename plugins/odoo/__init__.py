"""Relance plugin 'odoo' (work in progress: registers nothing yet)."""
