"""The Typer application object; command modules attach their commands to it.

Help shows plain metavars: a flag shows none, a value its kind (TEXT, INTEGER, FLOAT, PATH) or the form an
option declares (``metavar="SYMBOL=COLUMN"``); this Typer renders ``<bool>``, ``<list[str]>`` otherwise.

Start-up: this Typer coerces every parameter value through a pydantic ``TypeAdapter`` built on first use, even
for a value that was not given; importing pydantic for it costs ~0.07 s of a ~0.3 s command. Values that were
not given, text, paths and numbers that are already numbers (defaults), and lists of them, are coerced here as
Typer would (text as given, paths by Typer's own ``coerce_cli_path``); a number typed on the command line and
everything else still go through Typer's adapters, with their messages.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

import typer
from typer._coercion import RuntimeParam, TypeDescriptor, build_runtime_param
from typer._param_types import coerce_cli_path
from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from scalefit.cli.common import echo

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


@dataclass(frozen=True)
class _DeferredRuntime(RuntimeParam):
    """Typer's coercion of one parameter, without pydantic for absent values, text, paths and typed defaults."""

    descriptor: TypeDescriptor | None = None

    def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
        info, annotation = self.parameter_info, self.annotation
        many = get_origin(annotation) is list
        leaf = get_args(annotation)[0] if many else annotation
        if info.parser is None and self.descriptor.file_annotation is None:
            if many and not isinstance(value, (list, tuple)):
                value = [value]
            if leaf is str:
                return [str(v) for v in value] if many else str(value)
            if leaf in (int, float) and info.min is None and info.max is None:  # a default, already typed
                if all(type(v) is leaf for v in (value if many else [value])):
                    return list(value) if many else value
            if isinstance(leaf, type) and issubclass(leaf, Path):
                kind = info.path_type or leaf  # text becomes the path here: Typer would ask pydantic to do it

                def one(v: Any) -> Any:
                    v = kind(v) if isinstance(v, str) and isinstance(kind, type) and issubclass(kind, Path) else v
                    return coerce_cli_path(v, info, path_type=kind, param=param, ctx=ctx)

                return [one(v) for v in value] if many else one(value)
        return build_runtime_param(self.descriptor)._coerce_value(value, param=param, ctx=ctx)


def _deferred_runtime_param(self: Any) -> RuntimeParam:
    """``get_runtime_param`` of the parameter classes below: coercion through :class:`_DeferredRuntime`."""
    if self._runtime_param is None:
        d = self.type_descriptor
        self._runtime_param = _DeferredRuntime(d.parameter_info, d.annotation, d)
    return self._runtime_param


# Parameters get these classes by __class__ assignment, so each derives from one Typer class and adds no slot.
class _PlainOption(TyperOption):
    """An option coerced without pydantic where Typer's adapter would only copy text or check a path."""

    get_runtime_param = _deferred_runtime_param


class _PlainArgument(TyperArgument):
    """An argument named in capitals (LAW, RUNS) whose type column reads TEXT or PATH."""

    get_runtime_param = _deferred_runtime_param

    def display_type_rich(self, ctx: Any) -> str | None:
        return plain_type(self)


def plain_metavars(params: list) -> list:
    """Give each parameter a plain metavar (idempotent): flags none, values TEXT/FLOAT/PATH ..."""
    for p in params:
        if isinstance(p, TyperArgument):
            if p.metavar is None:
                p.metavar = p.name.upper()
            p.__class__ = _PlainArgument
            continue
        if type(p) is TyperOption:
            p.__class__ = _PlainOption
        if getattr(p, "is_flag", False) or getattr(p, "count", False):
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
            echo(f"note: `{ctx.command_path} {' '.join(args[:2])}` is now `{ctx.command_path} {new}`; "
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

        echo(f"scalefit {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """Train proxy LMs, fit scaling laws to run logs, predict at scale."""
