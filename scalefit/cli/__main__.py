"""`python -m scalefit.cli` runs the CLI."""

from scalefit.cli.app import main

main()
