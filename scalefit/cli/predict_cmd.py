"""``scalefit predict RESULT.json``: predictions at given points or for a CSV, from any kind of result file.

A law fit predicts its target (every group of a grouped fit, bootstrap intervals when it has them; ``--chain``
feeds it into a second fit; an lr-annealing fit also predicts whole curves with ``--schedule``); an
isoflop/envelope frontier predicts N* and D* at ``--at C=FLOPS``; a hyperparameter fit lr and B at
``--at N=.. --at D=..``; an LR-transfer fit lr* per parametrization at ``--at width=W``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors, write_csv_atomic
from scalefit.cli.option_groups import OUTPUT_ALIAS, given_options, option, out_path, with_options
from scalefit.cli.options import OptionError, check_group, parse_floats
from scalefit.cli.predict_kinds import USAGE, kind_predictions, with_map
from scalefit.fitting.intervals import describe, label

if TYPE_CHECKING:  # pandas loads when a prediction is made, not with the CLI
    import pandas as pd

_COMMON = {"at", "input_", "map_", "out", "output", "level", "as_json"}
_SCHEDULE = {"schedule", "schedule_csv", "steps", "peak_lr", "warmup_frac", "decay_frac", "min_lr_ratio"}
ALLOWED = {"law": _COMMON | {"group", "chain", "seed", "interval"},
           "curve": _COMMON | {"group", "chain", "seed", "interval"} | _SCHEDULE,
           "frontier": _COMMON, "hparams": _COMMON, "lr-transfer": _COMMON - {"level"},
           "ladder": _COMMON | {"interval", "seed"}}


def points_frame(at: list[str] | None) -> pd.DataFrame:
    """``--at N=7e10 --at D=1.4e12,2e12`` -> a frame; single values broadcast against lists."""
    import pandas as pd

    values = parse_floats(at, "--at")
    if not values:
        raise OptionError("give points with --at SYMBOL=VALUE (repeatable) or a CSV with --input")
    lengths = {len(v) for v in values.values()} - {1}
    if len(lengths) > 1:
        raise OptionError(f"--at lists must have equal lengths, got {sorted(lengths)}")
    n = lengths.pop() if lengths else 1
    return pd.DataFrame({k: v * n if len(v) == 1 else v for k, v in values.items()})


def predict_frame(fit, frame: pd.DataFrame, *, level: float, group: str | None = None,
                  inputs: pd.DataFrame | None = None, interval: str | None = "prediction") -> pd.DataFrame:
    """The columns of ``frame`` plus ``{target}_pred`` and ``_lower``/``_upper`` (the ``interval`` at ``level``:
    "prediction", "mean" when bootstrapped, None for none), predicted from ``inputs`` (default: ``frame``);
    every group of a grouped fit unless ``group`` names one."""
    import pandas as pd

    from scalefit.fitting.fit_set import FitSet, member

    inputs = frame if inputs is None else inputs
    if isinstance(fit, FitSet) and fit.targets and group is None:
        return _each_target(fit, frame, level=level, inputs=inputs)
    if isinstance(fit, FitSet) and group is None:
        col = fit.by
        if col in frame.columns:
            parts = [predict_frame(fit, frame.loc[sub.index], level=level, group=str(g), inputs=sub, interval=interval)
                     for g, sub in inputs.groupby(frame[col], sort=False)]
            return pd.concat(parts).loc[frame.index]
        parts = [predict_frame(fit, frame, level=level, group=g, inputs=inputs, interval=interval).assign(**{col: g})
                 for g in fit]
        return pd.concat(parts, ignore_index=True)
    from scalefit.planning.chain import prediction_label

    out, one = frame.copy(), member(fit, group)
    target = prediction_label(one)  # the symbol, or the fitted column (acc_mmlu_pred)
    out[f"{target}_pred"] = one.predict(inputs)
    if interval == "prediction" or (interval == "mean" and one.interval_method() is not None):
        iv = one.predict_interval(inputs, level=level, interval=interval)
        out[f"{target}_lower"], out[f"{target}_upper"] = iv
        out[METHOD] = iv.method  # how it was computed: said once in the output's interval record, not per row
    return out


METHOD = "interval_method"  # predict_frame's column naming how each row's interval was computed


def pop_methods(table: pd.DataFrame) -> tuple[pd.DataFrame, str | None]:
    """(``table`` without its :data:`METHOD` column, the distinct methods in it joined by "; ", or None)."""
    if METHOD not in table.columns:
        return table, None
    methods = sorted({str(m) for m in table[METHOD].dropna()})
    return table.drop(columns=[METHOD]), "; ".join(methods) or None


def _each_target(fit, frame: pd.DataFrame, *, level: float, inputs: pd.DataFrame) -> pd.DataFrame:
    """A multi-target fit: every target's predictions side by side, named ``<target column>_pred`` etc."""
    out = frame.copy()
    methods = []
    for target in fit.targets:
        part, method = pop_methods(predict_frame(fit, frame, level=level, group=target, inputs=inputs))
        methods += [method] if method else []
        for col in part.columns.difference(frame.columns, sort=False):
            out[f"{target}_{str(col).rsplit('_', 1)[-1]}"] = part[col].to_numpy()
    if methods:
        out[METHOD] = "; ".join(sorted(set(methods)))
    return out


_PAIRING = {
    "resampled": "the two fits have different bootstrap sizes; the chained interval pairs resampled draws",
    "first only": "the chained fit has no bootstrap; the interval reflects only the first fit's uncertainty",
    "second only": "the first fit has no bootstrap; the interval reflects only the chained fit's uncertainty",
}


def chained_frame(fit, chain_json: Path, frame: pd.DataFrame, *, level: float, group: str | None, seed: int,
                  interval: str = "prediction"):
    """Predictions of ``fit`` fed into the fit in ``chain_json`` (e.g. loss -> downstream error): every group
    (joined by name) unless ``group`` names one; ``interval="prediction"`` widens both stages' bootstrap draws
    by their calibrated noise and extrapolation error (:func:`scalefit.fitting.calibration.prediction_widen`)."""
    from scalefit.fitting import FitResult
    from scalefit.fitting.calibration import widen_for
    from scalefit.fitting.fit_set import member
    from scalefit.planning.chain import chain_predict, chain_predict_groups

    second = FitResult.load(chain_json)
    widen = widen_for(interval, level, seed)
    if group is None:
        pred = chain_predict_groups(fit, second, frame, level=level, seed=seed, widen=widen)
    else:
        pred = chain_predict(member(fit, group), member(second, group), frame, level=level, seed=seed, widen=widen)
    if pred.pairing in _PAIRING:
        warnings.warn(_PAIRING[pred.pairing], stacklevel=2)
    return pred.frame


@dataclass(frozen=True)
class CurveOptions:
    """lr-annealing fits: the schedule whose whole loss curve `scalefit predict` draws."""

    panel = "lr-annealing fits: a whole loss curve"

    schedule: str = option(None, "--schedule", help="lr-annealing fits: predict the whole loss curve of this "
                           "schedule (cosine, wsd, linear, constant) with --steps and --peak-lr.")
    schedule_csv: Path = option(None, "--schedule-csv", help="lr-annealing fits: the curve of a schedule given "
                                "as a CSV of step,lr with the LR of every update 1..T.")
    steps: int = option(None, "--steps", help="--schedule: number of updates.")
    peak_lr: float = option(None, "--peak-lr", help="--schedule: peak learning rate.")
    warmup_frac: float = option(0.05, "--warmup-frac", help="--schedule: warmup fraction of the steps.")
    decay_frac: float = option(0.2, "--decay-frac", help="--schedule wsd: fraction of steps in the decay.")
    min_lr_ratio: float = option(0.1, "--min-lr-ratio", help="--schedule: final LR / peak LR.")


def _law_predictions(fit, frame, inputs, *, level, group, chain, seed, interval="prediction") -> pd.DataFrame:
    if interval not in ("prediction", "mean", "none"):
        raise OptionError(f"--interval {interval!r}: one of prediction, mean, none")
    from scalefit.fitting.fit_set import members

    check_group(fit, group)
    if chain is not None:
        pred = chained_frame(fit, chain, inputs, level=level, group=group, seed=seed, interval=interval)
        if interval == "none":  # the chained points without their interval columns
            pred = pred.drop(columns=[c for c in pred.columns if c.endswith(("_lower", "_upper"))])
        return pred
    if interval == "mean" and all(f.interval_method() is None for f in members(fit)):
        raise OptionError("--interval mean is the interval of the fitted curve (bootstrap band, or delta method from "
                          "the parameter covariance); this fit has neither (refit with --bootstrap N) — or ask for "
                          "--interval prediction")
    return predict_frame(fit, frame, level=level, group=group, inputs=inputs,
                         interval=None if interval == "none" else interval)


# The kind of interval in the _lower/_upper columns of each kind of result (law fits and ladders: --interval).
KIND_OF = {"frontier": "parameter", "hparams": "mean", "lr-transfer": "prediction"}


def interval_kind(kind: str, interval: str, table: pd.DataFrame) -> str | None:
    """The kind of the intervals in ``table``'s ``_lower``/``_upper`` columns (None when it has none)."""
    if not any(str(c).endswith(("_lower", "_upper")) for c in table.columns):
        return None
    return KIND_OF.get(kind, interval if interval in ("prediction", "mean") else None)


def _show(result: pd.DataFrame, notes: list[str], out: Path | None, as_json: bool,
          interval: dict | None = None) -> None:
    import numpy as np

    if out is not None:
        write_csv_atomic(out, result)
    if as_json:
        echo_json({"predictions": result.replace({np.nan: None}).to_dict(orient="records"),
                   **({"interval": interval} if interval else {}), "notes": notes})
    elif out is not None:
        echo(f"wrote {len(result)} predictions to {out}")
    else:
        if interval:
            how = f"; {interval['method']}" if interval.get("method") else ""
            echo(f"_lower/_upper: {interval['label']} ({interval['meaning']}{how})")
        echo(result.to_string(index=False, float_format=lambda v: f"{v:.6g}"))


@app.command("predict")
@handle_errors
@with_options(curve=CurveOptions)
def predict_command(
    ctx: typer.Context,
    fit_json: Path = typer.Argument(..., metavar="RESULT.json", help="A result file written by `scalefit fit "
                                    "--out` (any kind)."),
    at: list[str] = typer.Option(None, "--at", metavar="SYMBOL=VALUE[,VALUE...]", help="A point, repeatable "
                                 "(e.g. --at N=7e10 --at D=1.4e12; --at C=1e24; --at width=1024)."),
    input_: Path = typer.Option(None, "--input", help="CSV of points (columns named by symbol or alias)."),
    map_: list[str] = typer.Option(None, "--map", metavar="SYMBOL=COLUMN", help="--input: which column feeds a "
                                   "symbol, e.g. --map N=params (repeatable)."),
    out: Path = typer.Option(None, "--out", "-o", help="Write the input columns plus predictions to this CSV."),
    output: Path = OUTPUT_ALIAS,
    group: str = typer.Option(None, "--group", help="Group of a grouped fit (default: every group)."),
    level: float = typer.Option(0.95, "--level", help="Interval level."),
    interval: str = typer.Option("prediction", "--interval", help="Law fits: prediction (where a new run would "
                                 "land: noise and extrapolation error, calibrated on the fit's extrapolation "
                                 "folds), mean (bootstrap band of the fitted curve) or none."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    chain: Path = typer.Option(None, "--chain", help="A second fit taking this fit's target as input (e.g. a "
                               "downstream-error fit of L): predict through both, intervals from both bootstraps."),
    seed: int = typer.Option(0, "--seed", help="--chain only: seed for pairing bootstraps of different sizes."),
    curve: CurveOptions = None,
) -> None:
    """Predict from any result file: a law fit's target (with bootstrap intervals), a frontier's N* and D*
    at C, a hyperparameter fit's lr and batch size at N and D, an LR-transfer fit's lr* at a width."""
    from scalefit._io import refuse_input_overwrite
    from scalefit.cli.result_kinds import refuse_other_options
    from scalefit.results import load

    out, flag = out_path(out, output)
    if out is not None:
        refuse_input_overwrite(out, [fit_json, input_, chain, curve.schedule_csv], option=flag)
    result = load(fit_json)
    kind = refuse_other_options(result, fit_json, given_options(ctx), ALLOWED, USAGE, "predict")
    if curve.schedule is not None or curve.schedule_csv is not None:  # a whole loss curve from an lr-annealing fit
        return _predict_curve(result, curve, at=at, input_=input_, chain=chain, out=out, group=group, level=level,
                              as_json=as_json)
    frame, inputs = _points(at, input_, map_, result)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = (kind_predictions(result, kind, fit_json, inputs, frame, level=level, interval=interval, seed=seed)
                 if kind not in ("law", "curve")
                 else _law_predictions(result, frame, inputs, level=level, group=group, chain=chain, seed=seed,
                                       interval=interval))
    notes = sorted({str(w.message) for w in caught})
    for note in notes:
        echo(f"note: {note}", err=True)
    table, method = pop_methods(table)
    shown = interval_kind(kind, interval, table)
    if shown is not None:
        table = table.assign(interval=label(shown, level))
    _show(table, notes, out, as_json, None if shown is None else describe(shown, level, method))


def _points(at, input_, map_, result) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(the points as given, the points the result reads: --map applied)."""
    from scalefit.runs import read_runs

    if input_ is not None and at:
        raise OptionError("use either --at or --input, not both")
    if map_ and input_ is None:
        raise OptionError("--map says which column of an --input file feeds a symbol; --at names the symbols")
    if input_ is None:
        frame = points_frame(at)
        _refuse_unused_points(result, frame)
        return frame, frame
    table = read_runs(input_)
    return table.frame, with_map(table, map_, result)


def _refuse_unused_points(result, frame: pd.DataFrame) -> None:
    """OptionError for an ``--at`` symbol a law fit's prediction does not use (``--at C=1`` beside N and D would be
    printed beside a prediction made without it)."""
    from scalefit.errors import ScalefitError
    from scalefit.fitting.fit_set import FitSet
    from scalefit.fitting.result import FitResult
    from scalefit.runs import RunTable, resolve

    if not isinstance(result, (FitResult, FitSet)) or len(frame.columns) < 2:
        return
    fit = next(iter(result.values())) if isinstance(result, FitSet) else result
    law = fit.law_spec
    for symbol in [c for c in frame.columns if c not in law.inputs]:  # an input given by name is always used
        try:
            resolve(RunTable.from_frame(frame.drop(columns=[symbol]), "--at"), law.inputs)
        except ScalefitError:
            continue  # the prediction needs it
        raise OptionError(f"--at {symbol}: law {law.name!r} predicts from {', '.join(law.inputs)}, which the other "
                          f"--at values give; {symbol} would be shown but not used: drop --at {symbol} (or give it "
                          "instead of an input it derives)")


def _predict_curve(result, curve: CurveOptions, *, at, input_, chain, out, group, level, as_json) -> None:
    from scalefit.cli.curves_cmd import predict_schedule, schedule_from_options

    if at or input_ is not None or chain is not None:
        raise OptionError("--schedule/--schedule-csv predict a whole curve; do not combine them with "
                          "--at/--input/--chain")
    label, lr = schedule_from_options(curve.schedule, curve.schedule_csv, curve.steps, curve.peak_lr,
                                      curve.warmup_frac, curve.decay_frac, curve.min_lr_ratio)
    predict_schedule(result, label=label, lr=lr, out=out, group=group, level=level, as_json=as_json)
