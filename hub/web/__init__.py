"""The accountant's workspace in the browser, served by `relance serve` (see docs/dashboard.md)."""
