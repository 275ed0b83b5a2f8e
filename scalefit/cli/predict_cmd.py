"""``scalefit predict fit.json``: predictions with bootstrap intervals at given points or for a CSV."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors, write_csv_atomic
from scalefit.cli.options import OptionError, parse_floats


def points_frame(at: list[str] | None) -> pd.DataFrame:
    """``--at N=7e10 --at D=1.4e12,2e12`` -> a frame; single values broadcast against lists."""
    values = parse_floats(at, "--at")
    if not values:
        raise OptionError("give points with --at SYMBOL=VALUE (repeatable) or a CSV with --input")
    lengths = {len(v) for v in values.values()} - {1}
    if len(lengths) > 1:
        raise OptionError(f"--at lists must have equal lengths, got {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    return pd.DataFrame({k: v * n if len(v) == 1 else v for k, v in values.items()})


def predict_frame(fit, frame: pd.DataFrame, *, level: float, group: str | None = None) -> pd.DataFrame:
    """The input columns plus ``predicted`` (and ``lower``/``upper`` when bootstrapped); per group if grouped."""
    if fit.groups and group is None:
        col = fit.group_by
        if col in frame.columns:
            parts = [predict_frame(fit, sub, level=level, group=str(g)) for g, sub in frame.groupby(col, sort=False)]
            return pd.concat(parts).loc[frame.index]
        parts = [predict_frame(fit, frame, level=level, group=g).assign(**{col: g}) for g in fit.groups]
        return pd.concat(parts, ignore_index=True)
    out = frame.copy()
    target = fit.law_spec.target
    out[f"{target}_pred"] = fit.predict(frame, group=group)
    single = fit.select(group)
    if single.bootstrap:
        lo, hi = fit.predict_interval(frame, level=level, group=group)
        out[f"{target}_lower"], out[f"{target}_upper"] = lo, hi
    return out


_PAIRING = {
    "resampled": "the two fits have different bootstrap sizes; the chained interval pairs resampled draws",
    "first only": "the chained fit has no bootstrap; the interval reflects only the first fit's uncertainty",
    "second only": "the first fit has no bootstrap; the interval reflects only the chained fit's uncertainty",
}


def chained_frame(fit, chain_json: Path, frame: pd.DataFrame, *, level: float, group: str | None, seed: int):
    """Predictions of ``fit`` fed into the fit in ``chain_json`` (e.g. loss -> downstream error)."""
    from scalefit.fitting import FitResult
    from scalefit.planning.chain import chain_predict

    second = FitResult.load(chain_json)
    pred = chain_predict(fit, second, frame, level=level, seed=seed, group=group if fit.groups else None,
                         second_group=group if second.groups else None)
    if pred.pairing in _PAIRING:
        warnings.warn(_PAIRING[pred.pairing], stacklevel=2)
    return pred.frame


@app.command("predict")
@handle_errors
def predict_command(
    fit_json: Path = typer.Argument(..., help="A fit written by `scalefit fit --out`."),
    at: list[str] = typer.Option(None, "--at", help="SYMBOL=VALUE[,VALUE...], repeatable (e.g. --at N=7e10)."),
    input_: Path = typer.Option(None, "--input", help="CSV of points (columns named by symbol or alias)."),
    output: Path = typer.Option(None, "--output", help="Write the input columns plus predictions to this CSV."),
    group: str = typer.Option(None, "--group", help="Group of a grouped fit (default: every group)."),
    level: float = typer.Option(0.95, "--level", help="Interval level when the fit has a bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    chain: Path = typer.Option(None, "--chain", help="A second fit taking this fit's target as input (e.g. a "
                               "downstream-error fit of L): predict through both, intervals from both bootstraps."),
    seed: int = typer.Option(0, "--seed", help="--chain only: seed for pairing bootstraps of different sizes."),
    schedule: str = typer.Option(None, "--schedule", help="lr-annealing fits: predict the whole loss curve of "
                                 "this schedule (cosine, wsd, linear, constant) with --steps and --peak-lr."),
    schedule_csv: Path = typer.Option(None, "--schedule-csv", help="lr-annealing fits: the curve of a schedule "
                                      "given as a CSV of step,lr with the LR of every update 1..T."),
    steps: int = typer.Option(None, "--steps", help="--schedule: number of updates."),
    peak_lr: float = typer.Option(None, "--peak-lr", help="--schedule: peak learning rate."),
    warmup_frac: float = typer.Option(0.05, "--warmup-frac", help="--schedule: warmup fraction of the steps."),
    decay_frac: float = typer.Option(0.2, "--decay-frac", help="--schedule wsd: fraction of steps in the decay."),
    min_lr_ratio: float = typer.Option(0.1, "--min-lr-ratio", help="--schedule: final LR / peak LR."),
) -> None:
    """Predict the fitted quantity at new points, with bootstrap intervals when available."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.fitting import FitResult
    from scalefit.runs import read_runs

    if output is not None:
        refuse_input_overwrite(output, [fit_json, input_, chain, schedule_csv], option="--output")
    if schedule is not None or schedule_csv is not None:  # a whole loss curve from an lr-annealing fit
        from scalefit.cli.curves_cmd import predict_schedule, schedule_from_options

        if at or input_ is not None or chain is not None:
            raise OptionError("--schedule/--schedule-csv predict a whole curve; do not combine them with "
                              "--at/--input/--chain")
        label, lr = schedule_from_options(schedule, schedule_csv, steps, peak_lr, warmup_frac, decay_frac, min_lr_ratio)
        return predict_schedule(fit_json, label=label, lr=lr, output=output, group=group, level=level, as_json=as_json)
    fit = FitResult.load(fit_json)
    if input_ is not None and at:
        raise OptionError("use either --at or --input, not both")
    frame = read_runs(input_).frame if input_ is not None else points_frame(at)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = (predict_frame(fit, frame, level=level, group=group) if chain is None
                  else chained_frame(fit, chain, frame, level=level, group=group, seed=seed))
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        typer.echo(f"note: {note}", err=True)
    if output is not None:
        write_csv_atomic(output, result)
    if as_json:
        echo_json({"predictions": result.replace({np.nan: None}).to_dict(orient="records"), "notes": notes})
    elif output is not None:
        typer.echo(f"wrote {len(result)} predictions to {output}")
    else:
        typer.echo(result.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
