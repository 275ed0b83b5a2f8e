"""scalefit: fit scaling laws to run logs and predict loss, downstream error and hyperparameters at scale.

Importing scalefit never imports torch or matplotlib.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalefit.errors import (  # noqa: E402
    BoundWarning,
    ConvergenceWarning,
    ExtrapolationWarning,
    FitError,
    LawError,
    RunDataError,
    ScalefitError,
)
from scalefit.fitting import BacktestResult, FitResult, backtest, fit  # noqa: E402
from scalefit.laws import Law, get_law, list_laws  # noqa: E402
from scalefit.results import load  # noqa: E402
from scalefit.runs import RunTable, read_runs  # noqa: E402

__all__ = [
    "__version__",
    "BacktestResult",
    "BoundWarning",
    "ConvergenceWarning",
    "ExtrapolationWarning",
    "FitError",
    "FitResult",
    "Law",
    "LawError",
    "RunDataError",
    "RunTable",
    "ScalefitError",
    "backtest",
    "fit",
    "get_law",
    "list_laws",
    "load",
    "read_runs",
]
