"""`python -m hub` is `relance`."""

from hub.cli import main

main()
