"""The Typer application object; command modules attach their commands to it."""

from __future__ import annotations

import typer

CONTEXT = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    name="scalefit",
    help="Train proxy LMs, fit scaling laws to run logs, predict at scale.",
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
