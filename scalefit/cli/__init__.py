"""Command-line interface (Typer): the only place that prints or exits."""
