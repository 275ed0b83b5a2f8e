"""Helpers shared by CLI commands: one-line errors, warnings on stderr, JSON output, and :func:`echo`.

Everything the CLI prints goes through :func:`echo` (or :func:`printable` where rich draws it): text that came
from data (a CSV cell, a column name, a message in a run's result.json) may hold terminal control sequences
(``ESC[2J`` clears the screen, ``ESC]0;...`` retitles the window, a bare ``\\r`` overwrites the line) or bidi
overrides that reorder what is shown; they are printed as visible escapes (``\\x1b``), never sent to the terminal.
"""

from __future__ import annotations

import functools
import os
import re
import warnings
from collections.abc import Callable
from typing import Any

import typer

from scalefit._io import dumps_strict, write_csv_atomic, write_json_atomic, write_text_atomic
from scalefit.errors import ScalefitError

__all__ = ["echo", "echo_json", "handle_errors", "printable", "write_csv_atomic", "write_json_atomic",
           "write_text_atomic"]

# C0 controls but tab and newline, DEL, C1 controls (0x9b is a one-byte CSI), bidi embeddings/overrides/isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\r": "\\r", "\x1b": "\\x1b"}


def _escape(match: re.Match) -> str:
    c = match.group()
    return _NAMED.get(c) or (f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}")


def printable(text: Any) -> str:
    """``text`` with every terminal control character shown as a visible escape (``\\x1b``, ``\\r``, ``\\u202e``);
    tabs and newlines are kept."""
    return _CONTROL.sub(_escape, str(text))


def duration(seconds: float) -> str:
    """A wall time as a person reads it in a progress line: "14 s", "3 min 05 s", "1.2 h"."""
    seconds = max(0.0, seconds)
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds // 60:.0f} min {seconds % 60:02.0f} s"
    return f"{seconds / 3600:.1f} h"


def echo(message: Any = "", *, err: bool = False, nl: bool = True) -> None:
    """Print ``message`` (stdout, or stderr with ``err``) with control characters escaped (see :func:`printable`)."""
    typer.echo(printable(message), err=err, nl=nl)


def handle_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Turn scalefit errors into one line on stderr and exit code 1; show warnings on stderr (only when the command
    succeeds: a failed command says one line, its error); on a terminal, the progress of long library work
    (:mod:`scalefit.cli.fit_progress`, erased before anything else is printed)."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from scalefit.cli.fit_progress import showing_progress

        failed = True
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with showing_progress(as_json=bool(kwargs.get("as_json")), quiet=bool(kwargs.get("quiet"))):
                    out = fn(*args, **kwargs)
                failed = False
                return out
            except typer.Exit as exc:  # a command's own exit
                failed = exc.exit_code not in (0, None)
                raise
            except ScalefitError as exc:
                echo(f"error: {exc}", err=True)
                raise typer.Exit(1) from None
            except BrokenPipeError:  # `scalefit ... | head`: the reader left; stop quietly
                os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
                raise typer.Exit(0) from None
            except OSError as exc:  # file system: not found, permissions, disk full ...
                where = f"{exc.filename}: " if exc.filename else ""
                echo(f"error: {where}{exc.strerror or exc}", err=True)
                raise typer.Exit(1) from None
            except RecursionError:
                echo("error: input nested too deeply to read", err=True)
                raise typer.Exit(1) from None
            except MemoryError:  # beyond the work budget's estimates, or a machine with little memory to spare
                echo("error: out of memory: the inputs or options need more memory than this machine has; use "
                     "smaller ones (fewer --points, --steps or --bootstrap samples, a smaller run log or corpus)",
                     err=True)
                raise typer.Exit(1) from None
            except KeyboardInterrupt:
                echo("interrupted", err=True)
                raise typer.Exit(130) from None
            except typer.TyperException:  # click's usage errors
                raise
            except Exception as exc:
                if os.environ.get("SCALEFIT_DEBUG"):
                    raise
                echo(f"error: internal error ({type(exc).__name__}: {exc}); this is a bug in scalefit, "
                           "please report it (SCALEFIT_DEBUG=1 shows the traceback)", err=True)
                raise typer.Exit(1) from None
            finally:
                seen = set()
                for w in () if failed else caught:
                    text = f"warning: {w.message}"
                    if text not in seen:
                        seen.add(text)
                        echo(text, err=True)

    return wrapper


def echo_json(obj: Any) -> None:
    """Print ``obj`` as JSON on stdout."""
    echo(dumps_strict(obj))
