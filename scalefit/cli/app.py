"""Entry point of the ``scalefit`` command.

Each command module attaches its commands to the Typer app on import. ``main()`` imports only the module of the
command being run (``scalefit laws`` does not import the fit, train or sweep commands: start-up is part of
every call), and every module when the command is not known yet (``--help``, a typo, shell completion).
``scalefit.cli.app.app`` — the app with every command, as tests and ``CliRunner`` use it — loads them all.
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import Any

# command -> the module that defines it (scalefit.cli.<module>); tests check this against the registered commands
COMMAND_MODULES = {
    "laws": "laws_cmd",
    "datasets": "datasets_cmd",
    "train": "train_cmd",
    "coord-check": "train_cmd",
    "fit": "fit_cmd",
    "predict": "predict_cmd",
    "plan": "plan_cmd",
    "backtest": "backtest_cmd",
    "simulate": "simulate_cmd",
    "sweep": "sweep_cmd",
    "sweep-status": "sweep_status_cmd",
    "plot": "plot_cmd",
    "select": "select_cmd",
}


def load_commands(names: list[str] | None = None) -> Any:
    """Import the modules of the commands ``names`` (every command when None) and return the Typer app."""
    from scalefit.cli._app import app

    for module in dict.fromkeys(COMMAND_MODULES[n] for n in (names or COMMAND_MODULES)):
        import_module(f"scalefit.cli.{module}")
    return app


def command_of(argv: list[str]) -> str | None:
    """The command ``argv`` (without the program name) runs when its first word names one (an old spelling
    as the group resolves it); None when it starts with a root option or names no known command."""
    from scalefit.cli._app import RENAMED

    if not argv or argv[0].startswith("-") or any(k.endswith("_COMPLETE") for k in os.environ):
        return None  # root options (--help, --version, completion) or no command: the whole app
    name = RENAMED.get(tuple(argv[:2]), argv[0])
    return name if name in COMMAND_MODULES else None


def __getattr__(name: str) -> Any:
    if name == "app":
        return load_commands()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """Run the CLI; a usage error (unknown option, a value of the wrong type) is one line, exit code 2."""
    import typer

    from scalefit.cli.common import echo

    command = command_of(sys.argv[1:])
    app = load_commands([command] if command else None)
    try:
        code = app(standalone_mode=False)
    except typer.Abort:
        echo("interrupted", err=True)
        sys.exit(130)
    except typer.TyperException as exc:  # click's usage errors (typer vendors click)
        where = f" (see `{exc.ctx.command_path} --help`)" if getattr(exc, "ctx", None) else ""
        message = " ".join(exc.format_message().split())
        if message:  # empty when the help was shown instead (`scalefit` alone)
            echo(f"error: {message}{where}", err=True)
        sys.exit(getattr(exc, "exit_code", 2))
    sys.exit(code if isinstance(code, int) else 0)


__all__ = ["COMMAND_MODULES", "app", "command_of", "load_commands", "main"]  # noqa: F822  app: __getattr__
