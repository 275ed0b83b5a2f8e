"""``scalefit plot RESULT.json [--runs RUNS.csv] [--to C] --out figures/NAME.png``: any result's figure."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.options import OptionError


def _runs(runs: Path | None, map_: list[str] | None, result):
    """The run log to draw: the --runs path, or its table with --map applied."""
    if not map_:
        return runs
    if runs is None:
        raise OptionError("--map says which column of the --runs file feeds a symbol; give --runs RUNS.csv")
    from scalefit.cli.predict_kinds import with_map
    from scalefit.runs import RunTable, read_runs

    table = read_runs(runs)
    return RunTable.from_frame(with_map(table, map_, result), table.source)


@app.command("plot")
@handle_errors
def plot_command(
    fit_json: Path = typer.Argument(..., metavar="RESULT.json", help="A result file written by `scalefit fit "
                                    "--out` (any kind)."),
    out: Path = typer.Option(..., "--out", "-o", help="Figure file; its suffix picks the format (.png, .pdf, .svg)."),
    runs: Path = typer.Option(None, "--runs", help="The run log the fit was made on: plots the runs and residuals."),
    map_: list[str] = typer.Option(None, "--map", metavar="SYMBOL=COLUMN", help="--runs: which column feeds a "
                                   "symbol when the run log names it differently from the fit's (repeatable)."),
    to: float = typer.Option(None, "--to", help="Extrapolate to this scale: FLOPs for N/D laws (1e24), else x."),
    group: str = typer.Option(None, "--group", help="Plot one group of a grouped fit (default: one row per group)."),
    by: str = typer.Option("auto", "--by", help="N/D laws: curves per model 'size', per 'compute' budget, or 'auto'."),
    level: float = typer.Option(0.95, "--level", help="Bootstrap band level when the fit has a bootstrap."),
    dpi: int = typer.Option(150, "--dpi", help="Resolution of raster formats."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Plot any result file: a law fit (runs, fitted curves, frontier to --to with its band, residuals), an
    isoflop/envelope frontier, a hyperparameter or LR-transfer fit, loss curves (--runs CURVES)."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.plotting import figure_format, pyplot, save_figure
    from scalefit.results import load

    refuse_input_overwrite(out, [fit_json, runs], option="--out")
    figure_format(out)
    result = load(fit_json)
    fig = result.plot(_runs(runs, map_, result), to=to, group=group, by=by, level=level)
    try:
        path = save_figure(fig, out, dpi=dpi)
    finally:
        pyplot().close(fig)
    if as_json:
        echo_json({"out": str(path)})
    else:
        echo(str(path))
