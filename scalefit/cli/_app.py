"""The Typer application object; command modules attach their commands to it.

Help shows plain metavars: a flag shows none, a value its kind (TEXT, INTEGER, FLOAT, PATH) or the form an
option declares (``metavar="SYMBOL=COLUMN"``); this Typer renders ``<bool>``, ``<list[str]>`` otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, get_args

import typer
from typer.core import TyperArgument, TyperCommand, TyperGroup

CONTEXT = {"help_option_names": ["-h", "--help"]}

SHORT_FLAGS = (
    "Short flags mean the same in every command: -h --help, -o --out, -s --set, -p --parametrization, "
    "-c --config, -q --quiet, -M --tokens-per-param, -n --dry-run, -e --executor, -w --workers."
)

# Old spellings still accepted for a release: (command, word) -> the command that replaced them.
RENAMED = {("sweep", "status"): "sweep-status"}

_PLAIN = {str: "TEXT", int: "INTEGER", float: "FLOAT", Path: "PATH", bool: "BOOLEAN"}


def plain_type(param: Any) -> str:
    """TEXT, INTEGER, FLOAT, PATH ... for a parameter's annotation (the element type of a list)."""
    annotation = param.type_descriptor.annotation
    args = [a for a in get_args(annotation) if a is not type(None)]
    while args and annotation not in _PLAIN:
        annotation, args = args[0], [a for a in get_args(args[0]) if a is not type(None)]
    return _PLAIN.get(annotation, "VALUE")


class _PlainArgument(TyperArgument):
    """An argument named in capitals (LAW, RUNS) whose type column reads TEXT or PATH."""

    def display_type_rich(self, ctx: Any) -> str | None:
        return plain_type(self)


def plain_metavars(params: list) -> list:
    """Give each parameter a plain metavar (idempotent): flags none, values TEXT/FLOAT/PATH ..."""
    for p in params:
        if isinstance(p, TyperArgument):
            if p.metavar is None:
                p.metavar = p.name.upper()
            p.__class__ = _PlainArgument
        elif getattr(p, "is_flag", False) or getattr(p, "count", False):
            p.metavar = ""
        elif p.metavar is None and hasattr(p, "type_descriptor"):
            p.metavar = plain_type(p)
    return params


class PlainCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list:
        return plain_metavars(super().get_params(ctx))


class PlainGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list:
        return plain_metavars(super().get_params(ctx))

    def resolve_command(self, ctx: Any, args: list[str]) -> tuple:
        new = RENAMED.get(tuple(args[:2]))
        if new is not None:
            typer.echo(f"note: `{ctx.command_path} {' '.join(args[:2])}` is now `{ctx.command_path} {new}`; "
                       "the old spelling goes in the next release", err=True)
            args = [new, *args[2:]]
        return super().resolve_command(ctx, args)


class ScalefitTyper(typer.Typer):
    """A Typer whose commands render plain metavars (see the module docstring)."""

    def command(self, *args: Any, cls: type | None = None, **kwargs: Any) -> Any:
        return super().command(*args, cls=cls or PlainCommand, **kwargs)


app = ScalefitTyper(
    name="scalefit",
    help="Train proxy LMs, fit scaling laws to run logs, predict at scale.",
    epilog=SHORT_FLAGS,
    cls=PlainGroup,
    context_settings=CONTEXT,
    no_args_is_help=True,
    add_completion=True,
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
