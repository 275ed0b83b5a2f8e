"""scalefit: fit scaling laws to run logs and predict loss, downstream error and hyperparameters at scale.

Importing scalefit never imports torch or matplotlib, nor scipy or pandas: the public names below are
loaded on first use (PEP 562), so ``scalefit --help`` and ``scalefit laws`` start without them.
"""

from __future__ import annotations

from scalefit._lazy import lazy_names

__version__ = "0.1.0"

from scalefit.errors import (  # noqa: E402
    ArgumentTypeError,
    BoundWarning,
    ConvergenceWarning,
    DroppedRowsWarning,
    ExtrapolationWarning,
    FitError,
    LawError,
    RunDataError,
    ScalefitError,
)

# public name -> the module that defines it, imported when the name is first used
_LAZY = {
    "BacktestResult": "scalefit.fitting.backtesting",
    "FitResult": "scalefit.fitting.result",
    "FitSet": "scalefit.fitting.fit_set",
    "backtest": "scalefit.fitting.backtesting",
    "fit": "scalefit.fitting.api",
    "Law": "scalefit.laws",
    "get_law": "scalefit.laws",
    "list_laws": "scalefit.laws",
    "load": "scalefit.results",
    "Progress": "scalefit._progress",
    "progress": "scalefit._progress",
    "RunTable": "scalefit.runs.table",
    "read_runs": "scalefit.runs.table",
}

__all__ = [
    "__version__",
    "ArgumentTypeError",
    "BacktestResult",
    "BoundWarning",
    "ConvergenceWarning",
    "DroppedRowsWarning",
    "ExtrapolationWarning",
    "FitError",
    "FitResult",
    "FitSet",
    "Law",
    "LawError",
    "Progress",
    "RunDataError",
    "RunTable",
    "ScalefitError",
    "backtest",
    "fit",
    "get_law",
    "list_laws",
    "load",
    "progress",
    "read_runs",
]


__getattr__, __dir__ = lazy_names("scalefit", _LAZY, globals(), __all__)
