"""Options declared once and shared by commands, and the options a user actually gave.

A group is a frozen dataclass whose fields are declared with :func:`option`; ``@with_options(fit=FitOptions)``
puts its fields among a command's options where the command declares ``fit: FitOptions = None`` and hands
the command one ``FitOptions`` value there. ``fit`` and ``backtest`` share their fitting options this way;
``plan``, ``sweep`` and ``train`` group theirs by what they configure.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import typer

from scalefit.cli.common import echo
from scalefit.cli.options import OptionError

_KEYWORD = inspect.Parameter.KEYWORD_ONLY


def option(default: Any, *decls: str, **kwargs: Any) -> Any:
    """A dataclass field that is also a command-line option (``typer.Option(default, *decls, **kwargs)``)."""
    return dataclasses.field(default=default, metadata={"option": typer.Option(default, *decls, **kwargs)})


def _group_parameters(cls: type) -> list[inspect.Parameter]:
    """The group's fields as keyword parameters; in the help panel ``cls.panel`` when the class names one."""
    hints = typing.get_type_hints(cls)
    params = []
    for f in dataclasses.fields(cls):
        info = copy.copy(f.metadata["option"])
        info.rich_help_panel = getattr(cls, "panel", None) or info.rich_help_panel
        params.append(inspect.Parameter(f.name, _KEYWORD, default=info, annotation=hints[f.name]))
    return params


def with_options(**groups: type) -> Callable:
    """Add the options of each group (keyword -> dataclass) to a command, in the place of the command's
    parameter of that name; the command receives one dataclass value there."""

    def deco(fn: Callable) -> Callable:
        hints = typing.get_type_hints(fn)
        params = []
        for p in inspect.signature(fn).parameters.values():  # a group's options go where its parameter is
            params += (_group_parameters(groups[p.name]) if p.name in groups
                       else [p.replace(kind=_KEYWORD, annotation=hints.get(p.name, p.annotation))])

        @functools.wraps(fn)
        def wrapper(**kwargs: Any) -> Any:
            for key, cls in groups.items():
                kwargs[key] = cls(**{f.name: kwargs.pop(f.name) for f in dataclasses.fields(cls)})
            return fn(**kwargs)

        del wrapper.__wrapped__  # typer reads the signature below, not fn's
        wrapper.__signature__ = inspect.Signature(params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params}
        return wrapper

    return deco


def given_options(ctx: typer.Context) -> dict[str, str]:
    """Parameter name -> its option as typed (e.g. ``compute`` -> ``--compute``) for the options given."""
    out = {}
    for p in ctx.command.params:
        source = ctx.get_parameter_source(p.name)
        if getattr(p, "opts", None) and p.opts[0].startswith("-") and source is not None and \
                source.name in ("COMMANDLINE", "ENVIRONMENT"):
            out[p.name] = max(p.opts, key=len)
    return out


# ---- --out, and --output, its old name in predict and backtest ------------------------------------------
OUTPUT_ALIAS = typer.Option(None, "--output", hidden=True, help="Old name of --out (goes in the next release).")


def out_path(out: Path | None, output: Path | None) -> tuple[Path | None, str]:
    """The output path and the option it came from; ``--output`` works for a release, with a note."""
    if output is None:
        return out, "--out"
    if out is not None:
        raise OptionError("--output is the old name of --out; give --out only")
    echo("note: --output is now --out; the old name goes in the next release", err=True)
    return output, "--output"


__all__ = ["OUTPUT_ALIAS", "given_options", "option", "out_path", "with_options"]
