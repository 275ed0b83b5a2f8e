"""``scalefit backtest LAW RUNS.csv --holdout EXPR | --folds K``: fit on the rest, score the held-out runs.

It takes `scalefit fit`'s options (declared once, :class:`scalefit.cli.fit_cmd.FitOptions`); with
``--group-by COLUMN`` each group is backtested on its own (its rows outside the held-out set fitted, its
held-out rows predicted), with scores per group and overall. ``--folds K`` replaces one --holdout by K nested
outward folds along ``--along`` (the folds of `scalefit select`), scored per fold and overall. Every
held-out row gets its ``--interval`` (prediction by default; mean needs --bootstrap) at ``--level``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors, write_csv_atomic
from scalefit.cli.fit_cmd import FitOptions, runs_and_target
from scalefit.cli.option_groups import OUTPUT_ALIAS, option, out_path, with_options
from scalefit.cli.options import OptionError
from scalefit.cli.row_options import RowOptions


@dataclass(frozen=True)
class HeldOut:
    """What is held out and how the held-out runs are scored."""

    panel = "held-out runs and their intervals"

    holdout: str = option(None, "--holdout", metavar="EXPR", help='Rows to hold out, e.g. "N >= 5e9".')
    folds: int = option(None, "--folds", metavar="K", help="Instead of --holdout: K folds along --along, rolling "
                        "outward (fold k holds out about the top k·f of the rows, cut between distinct values; "
                        "fewer when the values run out) or, on a categorical axis or mixtures, K group folds.")
    fraction: float = option(0.1, "--fraction", help="--folds: the share f of rows each fold adds to the held out.")
    along: str = option(None, "--along", metavar="SYMBOL|COLUMN", help="--folds: the axis (default: the law's "
                        "own: the first of N, C, D, M it takes, 'mixture' for the data-mixture laws).")
    interval: str = option("prediction", "--interval", help="prediction (where a new run would land: noise and "
                           "extrapolation error, calibrated on the fitted rows), mean (interval of the fitted "
                           "curve: bootstrap band, or delta method without --bootstrap) or none.")
    level: float = option(0.95, "--level", help="Interval level.")

    def spec(self) -> dict:
        """The keyword arguments of :func:`scalefit.fitting.backtesting.backtest` (or ``backtest_folds``)."""
        from scalefit.errors import ScalefitError
        from scalefit.fitting.folds import check_folds

        if (self.holdout is None) == (self.folds is None):
            raise OptionError("say what to hold out: --holdout EXPR or --folds K (one of them)")
        if self.interval not in ("prediction", "mean", "none"):
            raise OptionError(f"--interval {self.interval!r}: one of prediction, mean, none")
        interval = None if self.interval == "none" else self.interval
        if self.holdout is not None:
            return {"holdout": self.holdout, "interval": interval, "level": self.level}
        try:
            check_folds(self.folds, self.fraction)
        except ScalefitError as exc:
            raise OptionError(f"--folds/--fraction: {exc}") from None
        return {"folds": self.folds, "fraction": self.fraction, "along": self.along, "interval": interval,
                "level": self.level}


def _run(made, runs, spec: dict) -> list:
    """The backtests of FitSpec ``made`` on one run log: one for --holdout, one per fold for --folds."""
    from scalefit.fitting.backtesting import backtest, backtest_folds

    if "holdout" in spec:
        return [backtest(made, runs, **spec)]
    return backtest_folds(made, runs, **spec)


def _backtests(law: str, runs: Path, fitting: FitOptions, rows: RowOptions, spec: dict) -> dict:
    """{group or None: [BacktestResult, ...]}; groups whose holdout takes none or all of their rows (or that
    have no fold) are skipped."""
    import warnings

    from scalefit.errors import RunDataError
    from scalefit.fitting.api import as_table
    from scalefit.runs import filter_rows

    made = fitting.spec(law, fitting.options(law, rows), rows)  # the FitSpec each backtest fits
    runs, target = runs_and_target(rows.source(runs), fitting.target, fitting.target_mean, fitting.target_glob,
                                   command="backtest")
    runs, made = made.replace(target=target).pre_reduced(runs)  # reduced per run before the split: both alike
    by = fitting.group_by
    if by is None:
        return {None: _run(made, runs, spec)}
    table = filter_rows(as_table(runs), made.where, mapping=made.columns)
    mapping, made = made.columns, made.replace(where=None)  # the groups' rows are filtered here
    if by not in table.columns:
        raise OptionError(f"{table.source}: --group-by {by!r} is not a column; columns are {table.columns}")
    held = filter_rows(table, spec["holdout"], mapping=mapping, option="--holdout").frame.index \
        if "holdout" in spec else None
    out = {}
    for value, index in table.frame.groupby(by, sort=True).groups.items():
        n_held = None if held is None else len(index.intersection(held))
        if n_held in (0, len(index)):
            warnings.warn(f"group {by} = {value}: --holdout holds out {n_held} of its {len(index)} rows; "
                          "skipped (nothing to fit on or nothing to predict)", stacklevel=2)
            continue
        try:
            out[str(value)] = _run(made, table.subset(index), spec)
        except RunDataError as exc:
            warnings.warn(f"group {by} = {value}: skipped ({exc})", stacklevel=2)
    if not out:
        what = f"--holdout {spec['holdout']!r}" if "holdout" in spec else f"--folds {spec['folds']}"
        raise OptionError(f"{what} leaves no group of --group-by {by!r} with rows to fit and rows to "
                          "predict")
    return out


def _summary(bt) -> dict:
    return {"law": bt.fit.law, "holdout": bt.holdout, "n_fit": bt.fit.stats["n"], "n_holdout": len(bt.rows),
            "mean_abs_rel_error": bt.mean_abs_rel_error, "max_abs_rel_error": bt.max_abs_rel_error,
            "scores": bt.scores, "params": bt.fit.params, "rows": bt.rows.to_dict(orient="records")}


def _echo(bt, group: str | None) -> None:
    echo(bt.report(group=group))


def _echo_overall(what: str, scores: dict) -> None:
    from scalefit.fitting.scores import format_scores

    echo(f"\noverall ({what}, {scores['n']} held-out rows): mean |rel. error| = "
               f"{100 * scores['mean_abs_rel_error']:.3f}%   max = {100 * scores['max_abs_rel_error']:.3f}%   "
               + format_scores(scores, errors=False))


@app.command("backtest")
@handle_errors
@with_options(fitting=FitOptions, rows=RowOptions, held=HeldOut)
def backtest_command(
    law: str = typer.Argument(..., help="Law name (see `scalefit laws`) or `expr`."),
    runs: Path = typer.Argument(..., help="Run log: CSV, TSV or Parquet."),
    fitting: FitOptions = None,
    rows: RowOptions = None,
    held: HeldOut = None,
    out: Path = typer.Option(None, "--out", "-o", help="Write the per-row table to this CSV."),
    output: Path = OUTPUT_ALIAS,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fit on the rows outside --holdout (or on each of --folds K outward folds), predict the held-out rows,
    report errors, R², RMSLE, NMSE and the interval's coverage, width and interval score (per group with
    --group-by, per fold with --folds, and overall)."""
    import pandas as pd

    from scalefit._io import refuse_input_overwrite
    from scalefit.fitting.backtesting import overall_scores

    out, flag = out_path(out, output)
    if out is not None:
        refuse_input_overwrite(out, [runs], flag)
    spec = held.spec()
    results = _backtests(law, runs, fitting, rows, spec)
    folded = "folds" in spec
    if out is not None:
        col = fitting.group_by
        write_csv_atomic(out, pd.concat([bt.rows.assign(**({} if g is None else {col: g}),
                                                       **({"fold": bt.holdout} if folded else {}))
                                         for g, bts in results.items() for bt in bts], ignore_index=True))
    every = [bt for bts in results.values() for bt in bts]
    if as_json:
        unit = (lambda bts: {"folds": [_summary(bt) for bt in bts], "overall": overall_scores(bts)}) if folded \
            else (lambda bts: _summary(bts[0]))
        echo_json(unit(results[None]) if None in results else
                  {"group_by": fitting.group_by, "overall": overall_scores(every),
                   "groups": {g: unit(bts) for g, bts in results.items()}})
        return
    for i, (group, bts) in enumerate(results.items()):
        for j, bt in enumerate(bts):
            if i or j:
                echo()
            _echo(bt, None if group is None else f"{fitting.group_by} = {group}")
        if folded and len(bts) > 1:
            _echo_overall(f"{len(bts)} folds" + ("" if group is None else f", {fitting.group_by} = {group}"),
                          overall_scores(bts))
    if None not in results:
        _echo_overall(f"{len(results)} groups", overall_scores(every))
