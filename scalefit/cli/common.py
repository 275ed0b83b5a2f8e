"""Helpers shared by CLI commands: one-line errors, warnings on stderr, JSON output."""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable
from typing import Any

import typer

from scalefit._io import json_default, write_csv_atomic, write_json_atomic, write_text_atomic
from scalefit.errors import ScalefitError

__all__ = ["echo_json", "handle_errors", "write_csv_atomic", "write_json_atomic", "write_text_atomic"]


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn scalefit errors into one line on stderr and exit code 1; show warnings on stderr."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                return fn(*args, **kwargs)
            except ScalefitError as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            except BrokenPipeError:  # `scalefit ... | head`: the reader left; stop quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                raise typer.Exit(0) from None
            except OSError as exc:  # file system: not found, permissions, disk full ...
                where = f"{exc.filename}: " if exc.filename else ""
                typer.echo(f"error: {where}{exc.strerror or exc}", err=True)
                raise typer.Exit(1) from None
            except RecursionError:
                typer.echo("error: input nested too deeply to read", err=True)
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                typer.echo("interrupted", err=True)
                raise typer.Exit(130) from None
            except (typer.Exit, typer.TyperException):  # a command's own exit, click's usage errors
                raise
            except Exception as exc:
                if os.environ.get("SCALEFIT_DEBUG"):
                    raise
                typer.echo(f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in scalefit, "
                           "please report it (SCALEFIT_DEBUG=1 shows the traceback)", err=True)
                raise typer.Exit(1) from None
            finally:
                seen = set()
                for w in caught:
                    text = f"warning: {w.message}"
                    if text not in seen:
                        seen.add(text)
                        typer.echo(text, err=True)

    return wrapper


def echo_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout."""
    typer.echo(json.dumps(obj, indent=2, default=json_default))
