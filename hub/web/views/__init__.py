"""The dashboard pages, one module per area."""
