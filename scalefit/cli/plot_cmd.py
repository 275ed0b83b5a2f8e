"""``scalefit plot fit.json [--runs RUNS.csv] [--to C] --out figures/NAME.png``: fit and residual panels."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors


@app.command("plot")
@handle_errors
def plot_command(
    fit_json: Path = typer.Argument(..., help="A fit written by `scalefit fit --out`."),
    out: Path = typer.Option(..., "--out", "-o", help="Figure file; its suffix picks the format (.png, .pdf, .svg)."),
    runs: Path = typer.Option(None, "--runs", help="The run log the fit was made on: plots the runs and residuals."),
    to: float = typer.Option(None, "--to", help="Extrapolate to this scale: FLOPs for N/D laws (1e24), else x."),
    group: str = typer.Option(None, "--group", help="Plot one group of a grouped fit (default: one row per group)."),
    by: str = typer.Option("auto", "--by", help="N/D laws: curves per model 'size', per 'compute' budget, or 'auto'."),
    level: float = typer.Option(0.95, "--level", help="Bootstrap band level when the fit has a bootstrap."),
    dpi: int = typer.Option(150, "--dpi", help="Resolution of raster formats."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Plot a fitted law: runs, fitted curves, frontier extrapolated to --to with its band, and residuals."""
    from scalefit._io import refuse_input_overwrite
    from scalefit._schema import read_json
    from scalefit.fitting import FitResult
    from scalefit.plotting import figure_format, plot_fit_report, save_figure
    from scalefit.plotting._common import pyplot

    refuse_input_overwrite(out, [fit_json, runs], option="--out")
    figure_format(out)
    read_json(fit_json)  # an unreadable file is one line here, before the figure dispatch sniffs its schema
    from scalefit.plotting.hparams import hparams_figure  # `fit hparams` / `fit lr-transfer` files
    from scalefit.plotting.overtrain import special_figure  # isoflop/envelope, overtrain, downstream figures

    fig = hparams_figure(fit_json, runs)
    if fig is None and group is None:
        fig = special_figure(fit_json, runs, to=to, level=level)
    if fig is None:
        fit = FitResult.load(fit_json)
        fig = plot_fit_report(fit, runs, to=to, group=group, by=by, level=level)
    try:
        path = save_figure(fig, out, dpi=dpi)
    finally:
        pyplot().close(fig)
    if as_json:
        echo_json({"out": str(path)})
    else:
        typer.echo(str(path))
