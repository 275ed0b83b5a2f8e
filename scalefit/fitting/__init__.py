"""Fitting: objective, multi-start search, bootstrap and FitResult. The only place scipy is used.

The names below are imported on first use (PEP 562), so importing a light module of this package (or
``scalefit`` itself) does not load scipy or pandas.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

# public name -> the module that defines it
_LAZY = {
    "BacktestResult": "scalefit.fitting.api",
    "as_law": "scalefit.fitting.api",
    "as_table": "scalefit.fitting.api",
    "backtest": "scalefit.fitting.api",
    "fit": "scalefit.fitting.api",
    "fit_law": "scalefit.fitting.api",
    "Problem": "scalefit.fitting.objective",
    "FitResult": "scalefit.fitting.result",
}

__all__ = ["BacktestResult", "FitResult", "Problem", "as_law", "as_table", "backtest", "fit", "fit_law"]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'scalefit.fitting' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
