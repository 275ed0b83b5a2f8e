"""Entry point of the ``scalefit`` command: imports every command module, then runs the app."""

from __future__ import annotations

from scalefit.cli._app import app

# Each module attaches its commands to `app` on import (one line per module).
from scalefit.cli import laws_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import datasets_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import train_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import fit_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import predict_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import plan_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import backtest_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import simulate_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import isoflop_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import hparams_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import ladder_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import sweep_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import sweep_status_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import plot_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import curves_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import select_cmd  # noqa: E402,F401  isort: skip


def main() -> None:
    """Run the CLI; a usage error (unknown option, a value of the wrong type) is one line, exit code 2."""
    import sys

    import typer

    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        typer.echo("interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        where = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
        message = " ".join(exc.format_message().split())
        if message:  # empty when the help was shown instead (`scalefit` alone)
            typer.echo(f"error: {message}{where}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["app", "main"]
