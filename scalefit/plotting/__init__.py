"""Plots of fitted laws: data, fitted surface, compute-optimal frontier, extrapolation with bootstrap band,
residuals. matplotlib is imported only when a function draws (Agg when there is no display).

    from scalefit.plotting import plot_fit_report, save_figure
    fig = plot_fit_report(fit, "runs.csv", to=1e24)
    save_figure(fig, "figures/chinchilla.png")
"""

from __future__ import annotations

from scalefit.plotting._common import figure_format, pyplot, save_figure
from scalefit.plotting.figures import plot_fit, plot_fit_report, plot_residuals

__all__ = ["figure_format", "plot_fit", "plot_fit_report", "plot_residuals", "pyplot", "save_figure"]
