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


def _version(value: bool) -> None:
    if value:
        from scalefit import __version__

        typer.echo(f"scalefit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Train proxy LMs, fit scaling laws to run logs, predict at scale."""
