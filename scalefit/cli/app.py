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
from scalefit.cli import sweep_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import plot_cmd  # noqa: E402,F401  isort: skip
from scalefit.cli import curves_cmd  # noqa: E402,F401  isort: skip


def main() -> None:
    app()


__all__ = ["app", "main"]
