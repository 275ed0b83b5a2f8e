"""Fitting: objective, multi-start search, bootstrap and FitResult. The only place scipy is used.

The names below are imported on first use (PEP 562), so importing a light module of this package (or
``scalefit`` itself) does not load scipy or pandas.
"""

from __future__ import annotations

from scalefit._lazy import lazy_names

# public name -> the module that defines it
_LAZY = {
    "BacktestResult": "scalefit.fitting.backtesting",
    "as_law": "scalefit.fitting.api",
    "as_table": "scalefit.fitting.api",
    "backtest": "scalefit.fitting.backtesting",
    "fit": "scalefit.fitting.api",
    "fit_law": "scalefit.fitting.api",
    "Problem": "scalefit.fitting.objective",
    "FitResult": "scalefit.fitting.result",
    "FitSet": "scalefit.fitting.fit_set",
}

__all__ = ["BacktestResult", "FitResult", "FitSet", "Problem", "as_law", "as_table", "backtest", "fit", "fit_law"]


__getattr__, __dir__ = lazy_names("scalefit.fitting", _LAZY, globals(), __all__)
