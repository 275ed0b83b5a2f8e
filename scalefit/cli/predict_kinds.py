"""`scalefit predict` for the results that are not law fits, and ``--map`` for prediction inputs.

- an isoflop/envelope frontier: ``--at C=1e24`` -> N*, D*, D*/N* (bootstrap intervals when it has them);
- a hyperparameter fit: ``--at N=1e9 --at D=1e11`` -> lr and B (the Step Law fits, with intervals);
- an LR-transfer fit: ``--at width=1024`` -> lr* of each parametrization with a fitted lr*(width) line.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from scalefit.cli.options import OptionError

if TYPE_CHECKING:  # numpy and pandas load when a prediction is made, not with the CLI
    import numpy as np
    import pandas as pd

# What to give `scalefit predict` for each kind of result (said when an option does not apply).
USAGE = {
    "law": "--at SYMBOL=VALUE (e.g. --at N=7e10 --at D=1.4e12) or --input points.csv [--chain FIT]",
    "curve": "--schedule NAME --steps N --peak-lr LR (or --schedule-csv FILE), or --at/--input",
    "frontier": "--at C=FLOPS (e.g. --at C=1e24) or --input with a C column",
    "hparams": "--at N=PARAMS --at D=TOKENS [--at lr=LR --at B=BATCH] (e.g. --at N=1e9 --at D=1e11)",
    "lr-transfer": "--at width=W (e.g. --at width=1024)",
    "ladder": "--at N=PARAMS --at D=TOKENS (e.g. --at N=1e9 --at D=2e10) or --input with N and D columns",
}
SYMBOLS = {"frontier": ["C"], "hparams": ["N", "D"], "lr-transfer": ["width"], "ladder": ["N", "D"]}


def _stored_mapping(result) -> dict:
    """The symbol -> column mapping a result was fitted with (its predictions read those columns too)."""
    from scalefit.fitting.fit_set import FitSet

    if isinstance(result, FitSet):  # its members share the mapping (a multi-target fit's differ in the target)
        result = next(iter(result.values()))
    for owner in ("data", "options"):
        mapping = getattr(result, owner, None)
        if isinstance(mapping, dict) and isinstance(mapping.get("mapping"), dict):
            return dict(mapping["mapping"])
    return {}


def with_map(table, items: list[str] | None, result) -> pd.DataFrame:
    """The points of an --input table as the result reads them: each ``--map SYMBOL=COLUMN`` copies COLUMN to
    the symbol (and to the column the fit itself read the symbol from, which its predictions look for first)."""
    from scalefit.runs import parse_map

    frame = table.frame.copy()
    stored = _stored_mapping(result)
    for symbol, column in parse_map(items).items():
        if column not in frame.columns:
            raise OptionError(f"{table.source}: --map {symbol}={column}: no column {column!r}; columns are "
                              f"{list(map(str, frame.columns))}")
        frame[symbol] = frame[column]
        if symbol in stored:
            frame[stored[symbol]] = frame[column]
    return frame


def _symbols(inputs: pd.DataFrame, kind: str, path: Path) -> dict[str, np.ndarray]:
    from scalefit.runs import RunTable, resolve

    table = RunTable.from_frame(inputs, "<prediction inputs>")
    return resolve(table, SYMBOLS[kind], positive=SYMBOLS[kind]).values


def _optional_symbols(inputs: pd.DataFrame, symbols: list[str]) -> dict[str, np.ndarray]:
    """Those of ``symbols`` the inputs give (by name or alias), checked positive."""
    from scalefit.runs import RunTable, column_for, resolve

    table = RunTable.from_frame(inputs, "<prediction inputs>")
    present = [s for s in symbols if column_for(table, s, {}) is not None]
    return resolve(table, present, positive=present).values if present else {}


def _frontier(result, path: Path, x: dict, level: float) -> dict:
    import numpy as np

    from scalefit.planning.frontier import frontier_plan

    _, rows = frontier_plan(result, list(x["C"]), level=level)
    return {k: [r.get(k, np.nan) for r in rows] for k in rows[0] if k != "C"}


def _hparams(result, x: dict, level: float) -> dict:
    from scalefit.fitting.resample import tail_percent

    tail_percent(level)
    points = {"N": x["N"], "D": x["D"]}
    out = {}
    for key, value in result.predict(points).items():
        out[f"{key}_pred"] = value
        out.update(_interval(result.fits[key], points, key, level))
    out.update(_surface_loss(result, x, out, level))
    unit = result.data.get("provenance", {}).get("batch_unit")
    if unit:
        warnings.warn(f"B is in {unit}", stacklevel=2)
    return out


def _interval(fit, points: dict, key: str, level: float) -> dict:
    if not fit.bootstrap:
        return {}
    lower, upper = fit.predict_interval({s: points[s] for s in fit.law_spec.inputs}, level=level, interval="mean")
    return {f"{key}_lower": lower, f"{key}_upper": upper}


def _surface_loss(result, x: dict, out: dict, level: float) -> dict:
    """The loss at (lr, B) from the fit's loss valley: at the given ``lr``/``B`` (``--at lr=3e-4 --at B=1e6``),
    else at the recommended ones; nothing when the fit has no surface (then lr/B inputs are an error)."""
    surface = result.fits.get("surface")
    given = [s for s in ("lr", "B") if s in x]
    if surface is None:
        if given:
            raise OptionError(f"this hyperparameter fit has no loss surface, so it cannot predict the loss at given "
                              f"{'/'.join(given)}; refit with `scalefit fit hparams RUNS --opt surface=true`")
        return {}
    if not given:
        warnings.warn("L_pred is the loss at the recommended lr and B (give --at lr=... --at B=... for another "
                      "choice)", stacklevel=3)
    points = {"N": x["N"], "D": x["D"], "lr": x.get("lr", out["lr_pred"]), "B": x.get("B", out["B_pred"])}
    return {"L_pred": surface.predict(points), **_interval(surface, points, "L", level)}


def _lr_transfer(result, x: dict) -> dict:
    lines = {k: p for k, p in result.params.items() if "slope" in p and "intercept" in p}
    for name in sorted(set(result.params) - set(lines)):
        warnings.warn(f"{name}: {result.params[name].get('note', 'no lr*(width) line')}; no prediction",
                      stacklevel=2)
    if not lines:
        raise OptionError("no parametrization of this LR-transfer fit has an lr*(width) line to predict from "
                          "(it needs optima at two or more widths)")
    fitted = replace(result, params=lines)
    out = {}
    intervals = fitted.predict_interval(x["width"])
    for k, v in fitted.predict(x["width"]).items():
        out[f"lr_opt_{k}"] = v
        if k in intervals:
            out[f"lr_opt_{k}_lower"], out[f"lr_opt_{k}_upper"] = intervals[k]
    return out


def _ladder(result, x: dict, frame: pd.DataFrame, level: float, interval: str, seed: int) -> pd.DataFrame:
    """Both steps per task; ``interval="prediction"`` (the default) widens both fits' bootstrap draws by their
    calibrated run-to-run and extrapolation error, ``"mean"`` keeps the bootstrap band of the fitted curves."""
    import pandas as pd

    from scalefit.fitting.calibration import widen_for

    if interval not in ("prediction", "mean"):
        raise OptionError(f"--interval {interval!r}: a ladder gives prediction or mean intervals")
    pred = result.predict(pd.DataFrame({"N": x["N"], "D": x["D"]}), level=level, seed=seed,
                          widen=widen_for(interval, level, seed)).drop(columns=["N", "D"])
    n_tasks = len(result.tasks)
    rows = frame.loc[frame.index.repeat(n_tasks)].reset_index(drop=True)
    order = pred.assign(point=list(range(len(frame))) * n_tasks).sort_values("point", kind="stable")
    return pd.concat([rows, order.drop(columns="point").reset_index(drop=True)], axis=1)


def kind_predictions(result, kind: str, path: Path, inputs: pd.DataFrame, frame: pd.DataFrame, *,
                     level: float, interval: str = "prediction", seed: int = 0) -> pd.DataFrame:
    """``frame`` plus the predictions of a frontier, hyperparameter or LR-transfer result at ``inputs``."""
    import numpy as np

    x = _symbols(inputs, kind, path)
    if kind == "ladder":  # one row per (point, task): the task loss and the accuracy, chained
        return _ladder(result, x, frame, level, interval, seed)
    if kind == "hparams":
        x.update(_optional_symbols(inputs, ["lr", "B"]))
    if kind == "frontier":
        values = _frontier(result, path, x, level)
    elif kind == "hparams":
        values = _hparams(result, x, level)
    else:
        values = _lr_transfer(result, x)
    out = frame.copy()
    for symbol, v in x.items():
        if symbol not in out.columns:
            out[symbol] = v
    for key, v in values.items():
        out[key] = np.asarray(v, dtype=float)
    return out


__all__ = ["SYMBOLS", "USAGE", "kind_predictions", "with_map"]
