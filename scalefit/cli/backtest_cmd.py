"""``scalefit backtest LAW RUNS.csv --holdout EXPR``: fit on the rest, report error on held-out runs."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors, write_csv_atomic
from scalefit.cli.fit_cmd import law_options, runs_and_target


@app.command("backtest")
@handle_errors
def backtest_command(
    law: str = typer.Argument(..., help="Law name (see `scalefit laws`) or `expr`."),
    runs: Path = typer.Argument(..., help="Run log: CSV, TSV or Parquet."),
    holdout: str = typer.Option(..., "--holdout", help='Rows to hold out, e.g. "N >= 5e9".'),
    map_: list[str] = typer.Option(None, "--map", help="SYMBOL=COLUMN."),
    target: str = typer.Option(None, "--target", help="Column holding the fitted quantity."),
    target_mean: str = typer.Option(None, "--target-mean", help="Target = 1 - mean of columns matching this glob."),
    where: str = typer.Option(None, "--where", help="Row filter applied before the holdout split."),
    bootstrap: int = typer.Option(0, "--bootstrap", help="Bootstrap resamples for prediction intervals."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    loss: str = typer.Option("huber", "--loss", help="huber | mse."),
    delta: float = typer.Option(1e-3, "--delta", help="Huber threshold."),
    space: str = typer.Option(None, "--space", help="log | raw."),
    x: str = typer.Option(None, "--x", help="Input symbol of one-input laws such as `power`."),
    formula: str = typer.Option(None, "--formula", help="`expr` only: the formula."),
    param: list[str] = typer.Option(None, "--param", help="`expr` only: NAME=INIT[:MIN:MAX]."),
    opt: list[str] = typer.Option(None, "--opt", help="KEY=VALUE law option."),
    output: Path = typer.Option(None, "--output", help="Write the per-row table to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Fit on the rows outside --holdout, predict the held-out rows, report relative errors."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.fitting import backtest
    from scalefit.runs import parse_map

    if output is not None:
        refuse_input_overwrite(output, [runs], "--output")
    runs, target = runs_and_target(runs, target, target_mean)
    bt = backtest(
        law, runs, holdout=holdout, where=where, mapping=parse_map(map_), target=target, bootstrap=bootstrap,
        seed=seed, loss=loss, delta=delta, space=space, law_options=law_options(law, x, formula, param, opt),
    )
    if output is not None:
        write_csv_atomic(output, bt.rows)
    if as_json:
        echo_json({
            "law": bt.fit.law, "holdout": holdout, "n_fit": bt.fit.stats["n"], "n_holdout": len(bt.rows),
            "mean_abs_rel_error": bt.mean_abs_rel_error, "max_abs_rel_error": bt.max_abs_rel_error,
            "params": bt.fit.params, "rows": bt.rows.to_dict(orient="records"),
        })
        return
    typer.echo(f"backtest {bt.fit.law}: fitted on {bt.fit.stats['n']} rows, held out {len(bt.rows)} ({holdout})")
    typer.echo("fitted: " + ", ".join(f"{k}={v:.5g}" for k, v in bt.fit.params.items()))
    table = bt.rows.copy()
    table["rel_error"] = table["rel_error"].map(lambda v: f"{100 * v:+.2f}%")
    typer.echo(table.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
    typer.echo(f"mean |relative error| = {100 * bt.mean_abs_rel_error:.3f}%   "
               f"max = {100 * bt.max_abs_rel_error:.3f}%")
