"""`python -m scalefit` runs the CLI."""

from scalefit.cli.app import main

main()
