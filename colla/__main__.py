"""Allow ``python -m colla``."""

from colla.cli.app import main

main()
