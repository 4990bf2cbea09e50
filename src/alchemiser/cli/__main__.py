"""`python -m alchemiser.cli`."""

from alchemiser.cli import main

main()
