"""``scalefit backtest LAW RUNS.csv --holdout EXPR``: fit on the rest, report error on held-out runs.

It takes `scalefit fit`'s options (declared once, :class:`scalefit.cli.fit_cmd.FitOptions`); with
``--group-by COLUMN`` each group is backtested on its own (its rows outside --holdout fitted, its held-out
rows predicted), one table and one error per group.
"""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors, write_csv_atomic
from scalefit.cli.fit_cmd import FitOptions, FitRequest, runs_and_target
from scalefit.cli.option_groups import OUTPUT_ALIAS, out_path, with_options
from scalefit.cli.options import OptionError


def _backtests(req: FitRequest, holdout: str) -> dict:
    """{group or None: BacktestResult}; groups whose holdout takes none or all of their rows are skipped."""
    import warnings

    from scalefit.fitting import backtest
    from scalefit.fitting.api import as_law, as_table
    from scalefit.runs import filter_rows

    runs, target = runs_and_target(req.runs, req.target, req.target_mean, req.target_glob, command="backtest")
    kwargs = dict(holdout=holdout, mapping=req.mapping, target=target, bootstrap=req.bootstrap, seed=req.seed,
                  loss=req.loss, delta=req.delta, space=req.space, law_options=req.law_options,
                  bootstrap_by=req.bootstrap_by)
    if req.group_by is None:
        return {None: backtest(req.name, runs, where=req.where, **kwargs)}
    mapping = {**req.mapping, **({} if target is None else {as_law(req.name, req.law_options).target: target})}
    table = filter_rows(as_table(runs), req.where, mapping=mapping)
    if req.group_by not in table.columns:
        raise OptionError(f"{table.source}: --group-by {req.group_by!r} is not a column; columns are {table.columns}")
    held = filter_rows(table, holdout, mapping=mapping, option="--holdout").frame.index
    out = {}
    for value, rows in table.frame.groupby(req.group_by, sort=True).groups.items():
        n_held = len(rows.intersection(held))
        if n_held in (0, len(rows)):
            warnings.warn(f"group {req.group_by} = {value}: --holdout holds out {n_held} of its {len(rows)} rows; "
                          "skipped (nothing to fit on or nothing to predict)", stacklevel=2)
            continue
        out[str(value)] = backtest(req.name, table.subset(rows), **kwargs)
    if not out:
        raise OptionError(f"--holdout {holdout!r} leaves no group of --group-by {req.group_by!r} with rows to fit "
                          "and rows to predict")
    return out


def _summary(bt, holdout: str) -> dict:
    return {"law": bt.fit.law, "holdout": holdout, "n_fit": bt.fit.stats["n"], "n_holdout": len(bt.rows),
            "mean_abs_rel_error": bt.mean_abs_rel_error, "max_abs_rel_error": bt.max_abs_rel_error,
            "scores": bt.scores, "params": bt.fit.params, "rows": bt.rows.to_dict(orient="records")}


def _overall(results: dict) -> dict:
    """Scores over the held-out rows of every group together (bands only when every group has one)."""
    import pandas as pd

    from scalefit.fitting.scores import scores

    rows = pd.concat([bt.rows for bt in results.values()], ignore_index=True)
    band = (rows["lower"], rows["upper"]) if all("lower" in bt.rows for bt in results.values()) else (None, None)
    return scores(rows["actual"], rows["predicted"], *band)


def _echo(bt, holdout: str, group: str | None) -> None:
    from scalefit.fitting.scores import format_scores

    where = f" [{group}]" if group is not None else ""
    typer.echo(f"backtest {bt.fit.law}{where}: fitted on {bt.fit.stats['n']} rows, held out {len(bt.rows)} "
               f"({holdout})")
    typer.echo("fitted: " + ", ".join(f"{k}={v:.5g}" for k, v in bt.fit.params.items()))
    table = bt.rows.copy()
    table["rel_error"] = table["rel_error"].map(lambda v: f"{100 * v:+.2f}%")
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    typer.echo(format_scores(bt.scores))


@app.command("backtest")
@handle_errors
@with_options(fitting=FitOptions)
def backtest_command(
    law: str = typer.Argument(..., help="Law name (see `scalefit laws`) or `expr`."),
    runs: Path = typer.Argument(..., help="Run log: CSV, TSV or Parquet."),
    holdout: str = typer.Option(..., "--holdout", metavar="EXPR", help='Rows to hold out, e.g. "N >= 5e9".'),
    fitting: FitOptions = None,
    out: Path = typer.Option(None, "--out", "-o", help="Write the per-row table to this CSV."),
    output: Path = OUTPUT_ALIAS,
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fit on the rows outside --holdout, predict the held-out rows, report relative errors (per group with
    --group-by)."""
    import pandas as pd

    from scalefit._io import refuse_input_overwrite

    out, flag = out_path(out, output)
    if out is not None:
        refuse_input_overwrite(out, [runs], flag)
    results = _backtests(fitting.request(law, runs), holdout)
    if out is not None:
        col = fitting.group_by
        write_csv_atomic(out, pd.concat([bt.rows.assign(**({} if g is None else {col: g}))
                                         for g, bt in results.items()], ignore_index=True))
    if as_json:
        echo_json(_summary(results[None], holdout) if None in results else
                  {"group_by": fitting.group_by, "overall": _overall(results),
                   "groups": {g: _summary(bt, holdout) for g, bt in results.items()}})
        return
    for i, (group, bt) in enumerate(results.items()):
        if i:
            typer.echo()
        _echo(bt, holdout, None if group is None else f"{fitting.group_by} = {group}")
    if None not in results:
        from scalefit.fitting.scores import format_scores

        n = sum(len(bt.rows) for bt in results.values())
        overall = _overall(results)
        typer.echo(f"\noverall ({len(results)} groups, {n} held-out rows): mean |rel. error| = "
                   f"{100 * overall['mean_abs_rel_error']:.3f}%   max = {100 * overall['max_abs_rel_error']:.3f}%   "
                   + format_scores(overall, errors=False))
