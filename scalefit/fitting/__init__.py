"""Fitting: objective, multi-start search, bootstrap and FitResult. The only place scipy is used."""

from scalefit.fitting.api import BacktestResult, as_law, as_table, backtest, fit, fit_law
from scalefit.fitting.objective import Problem
from scalefit.fitting.result import FitResult

__all__ = ["BacktestResult", "FitResult", "Problem", "as_law", "as_table", "backtest", "fit", "fit_law"]
