"""``plot_result``: the figure for any scalefit result (what ``result.plot()`` and ``scalefit plot`` draw).

One dispatch on the result's type (and, for law fits, the law) to the figure that shows it best:
law fits and FitSets get the fit and residual panels (over-training, downstream and loss-curve laws their own
plots), isoflop/envelope results the IsoFLOP profiles and frontier, hyperparameter fits the Step Law panels, LR
transfer its loss-vs-LR panels, a model ladder its two steps per task. Returns the Figure. Results never import
plotting: ``ResultFile.plot`` reaches this one function, and it reads the results.
"""

from __future__ import annotations

from typing import Any


def _figure(drawn: Any):
    """The Figure of an Axes, a list of Axes, or a Figure."""
    from matplotlib.figure import Figure

    first = drawn[0] if isinstance(drawn, (list, tuple)) else drawn
    return first if isinstance(first, Figure) else first.figure


def plot_result(result: Any, runs: Any = None, *, ax: Any = None, to: float | None = None,
                group: object | None = None, by: str = "auto", level: float = 0.95):
    """Draw ``result`` (with the run log ``runs`` where the figure shows runs); ``ax`` an Axes or list to draw on.
    A figure of its own (``ax`` None) has its titles wrapped to their panels
    (:func:`scalefit.plotting._common.fit_titles`); a caller's axes are left as they are."""
    fig = _figure(_draw(result, runs, ax=ax, to=to, group=group, by=by, level=level))
    if ax is None:
        from scalefit.plotting._common import fit_titles

        fit_titles(fig)
    return fig


def _draw(result, runs, *, ax, to, group, by, level):
    from scalefit.errors import ConfigError
    from scalefit.fitting.fit_set import FitSet
    from scalefit.fitting.lr_transfer_result import LRTransferResult
    from scalefit.fitting.result import FitResult
    from scalefit.planning.frontier import FrontierResult
    from scalefit.planning.hparams import HparamFit
    from scalefit.planning.ladder_result import LadderResult

    if isinstance(result, LRTransferResult):
        from scalefit.plotting.lr_transfer import plot_lr_transfer

        return plot_lr_transfer(result, axes=ax)
    if isinstance(result, HparamFit):
        from scalefit.plotting.hparams import hparams_figure, plot_hparam_laws

        return hparams_figure(result, runs) if ax is None else plot_hparam_laws(result, axes=ax, level=level)
    if isinstance(result, FrontierResult):
        from scalefit.plotting.overtrain import plot_frontier, plot_isoflop

        if result.method == "isoflop" and not (ax is not None and not isinstance(ax, (list, tuple))):
            return plot_isoflop(result, to=to, axes=ax)
        return plot_frontier(result, to=to, ax=ax)
    if isinstance(result, LadderResult):
        from scalefit.plotting.ladder import plot_ladder

        return plot_ladder(result, axes=ax, group=group, level=level)
    if not isinstance(result, (FitResult, FitSet)):
        raise ConfigError(f"cannot plot a {type(result).__name__}; scalefit plots its own results")
    return _plot_fit(result, runs, ax=ax, to=to, group=group, by=by, level=level)


def _plot_fit(fit, runs, *, ax, to, group, by, level):
    from scalefit.errors import ConfigError
    from scalefit.fitting.fit_set import FitSet
    from scalefit.plotting.figures import plot_fit, plot_fit_report

    if fit.law == "lr-annealing":
        if runs is None:
            raise ConfigError("a loss-curve (lr-annealing) fit is drawn over its curves: give the curve log or the "
                              "sweep folder with --runs (runs=...)")
        from scalefit.plotting.curves import plot_curves

        return plot_curves(fit, runs, group=group, level=level, ax=ax)
    if fit.law in ("overtrain", "downstream", "downstream-sigmoid") and not isinstance(fit, FitSet):
        from scalefit.plotting.overtrain import plot_downstream, plot_overtrain

        if fit.law == "overtrain":
            return plot_overtrain(fit, runs, to=to, level=level, ax=ax)
        return plot_downstream(fit, runs, level=level, ax=ax)
    if ax is not None:
        return plot_fit(fit, runs, to=to, group=group, by=by, level=level, ax=ax)
    return plot_fit_report(fit, runs, to=to, group=group, by=by, level=level)
