"""Fitting the lr-annealing curve law to curve logs, predicting whole curves for schedules nobody ran,
and comparing schedules for a fixed budget of updates (Tissue et al. 2024; see ``scalefit.laws.lr_annealing``).

    fit = fit_curves("runs/schedules-cpu", where="schedule != 'wsd'")       # cosine + constant runs
    lr = trainer_schedule("wsd", 1200, 2e-3, warmup_frac=0.02, decay_frac=0.2)
    predict_curve(fit.fit, lr)                                              # step, lr, S1, S2, L_pred [, interval]
    compare_schedules(fit.fit, steps=20000, peak_lr=3e-3).table             # final loss per schedule

Rows before the LR reaches its peak (the warmup) and rows without a finite loss are left out of the fit by
default: the law describes the curve after warmup. The decay factor lambda is a law option (default 0.999);
``fit_lambda=True`` chooses it by profiling: the 4-parameter fit is repeated on a grid of lambda (S2 recomputed
for each) and the best objective wins. Bootstrap intervals are then conditional on that lambda, and resample
logged points (not runs) by default, since a curve fit often rests on two or three runs.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scalefit._budget import WORK_BYTES, check_work
from scalefit.errors import FitError, PlanInputError, RunDataError
from scalefit.fitting.api import fit_law
from scalefit.fitting.fit_set import FitSet, member, members
from scalefit.fitting.resample import percentile_interval, tail_percent
from scalefit.fitting.result import FitResult
from scalefit.laws import get_law
from scalefit.laws.lr_annealing import DEFAULT_LAMBDA, areas, warmup_end
from scalefit.planning.curves import SCHEDULES, check_schedule_work, read_curves, trainer_schedule, with_areas
from scalefit.planning.inputs import fraction, positive, steps_count
from scalefit.runs import RunTable, filter_rows

LAW = "lr-annealing"
LAMBDA_GRID = tuple(1.0 - np.geomspace(3e-2, 1e-4, 11))  # 0.97 ... 0.9999, even in log(1 - lambda)
POINT = "_point"  # column numbering the logged points, the default bootstrap unit


def prepare_curves(
    data: RunTable | pd.DataFrame | str | Path, lam: float = DEFAULT_LAMBDA, *, skip_warmup: bool = True
) -> RunTable:
    """The curve log with S1, S2 for decay factor ``lam``: rows with a finite loss (after warmup by default)."""
    table = read_curves(data)
    if "loss" not in table.columns:
        raise RunDataError(f"{table.source}: a curve log needs a 'loss' column; columns are {table.columns}")
    full = with_areas(table, lam)
    frame = full.frame
    keep = np.isfinite(pd.to_numeric(frame["loss"], errors="coerce").to_numpy(dtype=float)) & (frame["S1"] > 0)
    if skip_warmup:
        keep &= pd.to_numeric(frame["step"]) >= frame["warmup_end"]
    if not keep.any():
        raise RunDataError(f"{table.source}: no rows with a finite loss after warmup to fit the curve law on")
    out = frame.loc[keep].copy()
    out[POINT] = np.arange(len(out))
    return RunTable(out, table.source)


@dataclass(frozen=True)
class CurveFit:
    """An lr-annealing fit of curve logs: the FitResult, lambda (and its profile) and per-run errors."""

    fit: FitResult  # the law fit (law option lam = the lambda used); saved as the fit file
    lam: float  # the annealing decay factor used
    profile: list | None  # [(lambda, objective), ...] when lambda was fitted, else None
    runs: pd.DataFrame  # per run: schedule, points, steps, mean and max |relative error|, final loss and its error

    def report(self) -> str:
        lines = [self.fit.report(), ""]
        how = "chosen by profile fit" if self.profile else "fixed (law option lam)"
        lines.append(f"lambda   {self.lam:.6g} ({how})")
        if self.profile:
            lines.append("profile  " + ", ".join(f"{lam:.5g}: {obj:.4g}" for lam, obj in self.profile))
        lines += ["", "fit per run (relative errors of the fitted curve at the logged points)"]
        lines.append(self.runs.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"fit": self.fit.to_dict(), "lambda": self.lam, "lambda_profile": self.profile,
                "runs": self.runs.to_dict(orient="records")}

    def save(self, path: str | Path) -> Path:
        """Write the fit file (a FitResult, usable by `scalefit predict` and `scalefit plan`)."""
        return self.fit.save(path)


def fit_curves(
    data: RunTable | pd.DataFrame | str | Path,
    *,
    lam: float = DEFAULT_LAMBDA,
    fit_lambda: bool = False,
    lambdas: Sequence[float] = LAMBDA_GRID,
    skip_warmup: bool = True,
    bootstrap_by: str | None = POINT,
    **fit_kwargs: Any,
) -> CurveFit:
    """Fit the lr-annealing law to one or more curves at once (``fit_kwargs`` go to :func:`scalefit.fit`:
    where, group_by, bootstrap, seed, loss, delta, mapping, target ...).

    ``bootstrap_by``: the resampling unit (default: logged points; ``"run_id"`` resamples whole runs).
    """
    table = read_curves(data)
    fit_kwargs = dict(fit_kwargs)
    for key in ("law_options", "starts"):
        if key in fit_kwargs:
            raise FitError(f"fit_curves sets {key} itself; use lam= for the decay factor")
    profile = None
    if fit_lambda:
        lam, profile = _profile_lambda(table, lambdas, skip_warmup, fit_kwargs)
    prepared = prepare_curves(table, lam, skip_warmup=skip_warmup)
    result = fit_law(get_law(LAW, lam=lam), prepared, bootstrap_by=bootstrap_by, **fit_kwargs)
    if profile:
        one = lambda f: dataclasses.replace(f, search={**f.search, "lambda_profile": profile})  # noqa: E731
        result = dataclasses.replace(result, fits={k: one(f) for k, f in result.items()}) if isinstance(
            result, FitSet) else one(result)
    return CurveFit(result, float(lam), profile, run_errors(result, prepared, where=fit_kwargs.get("where")))


def _objective(result: FitResult) -> float:
    return float(sum(g.stats["objective"] for g in members(result)))


def _best_params(result: FitResult) -> np.ndarray:
    return np.array([[g.params[k] for k in get_law(LAW).param_names] for g in members(result)])


def _profile_lambda(table, lambdas, skip_warmup, fit_kwargs) -> tuple[float, list]:
    """Objective of the 4-parameter fit on a grid of lambda, refined around the best; returns (best, profile).

    The first fit searches the law's start grid; the others start from the optima found so far (the
    optimum moves smoothly with lambda), which keeps the profile to a few seconds.
    """
    grid = sorted({float(v) for v in lambdas})
    if not grid or any(not 0 < v < 1 for v in grid):
        raise FitError(f"the lambda grid must hold values in (0, 1), got {grid}")
    opts = {k: v for k, v in fit_kwargs.items() if k not in ("bootstrap", "calibrate")}
    profile: list[tuple[float, float]] = []
    starts: list[np.ndarray] = []

    def run(v: float) -> None:
        kw = dict(opts, starts=np.vstack(starts)) if starts else opts
        res = fit_law(get_law(LAW, lam=v), prepare_curves(table, v, skip_warmup=skip_warmup), calibrate=False,
                      **kw)
        profile.append((v, _objective(res)))
        starts.append(_best_params(res))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        middle = grid[len(grid) // 2]
        for v in [middle] + [g for g in grid if g != middle]:
            run(v)
        # refine between the neighbours of the best grid value, evenly in log(1 - lambda)
        profile.sort()
        i = int(np.argmin([o for _, o in profile]))
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, len(grid) - 1)]
        for u in np.geomspace(1 - lo, 1 - hi, 6)[1:-1]:
            if all(abs(float(1 - u) - w) > 1e-12 for w, _ in profile):
                run(float(1 - u))
    profile.sort()
    best = min(profile, key=lambda t: t[1])[0]
    return best, [(float(a), float(b)) for a, b in profile]


def run_errors(result: FitResult, prepared: RunTable, *, where: str | None = None) -> pd.DataFrame:
    """Per run: how well the fitted curve matches its logged points (relative error = pred/actual - 1)."""
    table = filter_rows(prepared, where)
    rows = []
    frame = table.frame
    runs = frame["run_id"].astype(str) if "run_id" in frame.columns else pd.Series("run", index=frame.index)
    for run, sub in frame.groupby(runs, sort=False):
        one = result[str(sub[result.by].iloc[0])] if isinstance(result, FitSet) else result
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            pred = one.predict({"S1": sub["S1"].to_numpy(), "S2": sub["S2"].to_numpy()})
        actual = pd.to_numeric(sub["loss"]).to_numpy(dtype=float)
        rel = pred / actual - 1.0
        last = int(np.argmax(pd.to_numeric(sub["step"]).to_numpy()))
        rows.append({
            "run_id": run,
            "schedule": sub["schedule"].iloc[0] if "schedule" in sub.columns else "",
            "points": len(sub),
            "last_step": int(pd.to_numeric(sub["step"]).max()),
            "mean_abs_rel_err": float(np.mean(np.abs(rel))),
            "max_abs_rel_err": float(np.max(np.abs(rel))),
            "final_loss": float(actual[last]),
            "final_pred": float(pred[last]),
            "final_rel_err": float(rel[last]),
        })
    return pd.DataFrame(rows)


def _lam(fit: FitResult) -> tuple[FitResult, float]:
    single = member(fit)  # a FitSet: refused, naming its keys
    if single.law != LAW:
        raise FitError(f"this is a {single.law!r} fit; curve prediction needs an {LAW!r} fit "
                       f"(`scalefit fit {LAW} CURVES.csv --out curve.json`)")
    return single, float(single.law_spec.options.get("lam", DEFAULT_LAMBDA))


def predict_curve(fit: FitResult, lr: np.ndarray, *, level: float = 0.95) -> pd.DataFrame:
    """The predicted loss after every update of the schedule ``lr`` (update 1 first), with a bootstrap
    interval when the fit has one: columns step, lr, S1, S2, L_pred [, L_lower, L_upper].

    The law describes the curve after warmup, so the loss is NaN before the LR first reaches its peak.
    """
    single, lam = _lam(fit)
    lr = np.asarray(lr, dtype=float)
    if lr.ndim != 1 or lr.size == 0 or not np.isfinite(lr).all() or (lr < 0).any():
        raise RunDataError("the schedule must be a non-empty 1-D array of finite learning rates >= 0")
    n_boot = len(next(iter(single.bootstrap.values()))) if single.bootstrap else 0
    per_step = 8 * (12 + 2 * n_boot)  # the curve's columns, and every bootstrap fit's prediction at every update
    check_work("--steps", lr.size, PlanInputError, f"use --steps {max(1, WORK_BYTES // per_step):,} or fewer"
               + (f" (the fit's {n_boot:,} bootstrap samples each predict every update)" if n_boot else ""),
               nbytes=lr.size * per_step)
    s1, s2 = areas(lr, lam)
    out = pd.DataFrame({"step": np.arange(1, lr.size + 1), "lr": lr, "S1": s1, "S2": s2})
    ok = np.arange(lr.size) >= warmup_end(lr)
    x = {"S1": s1[ok], "S2": s2[ok]}
    out["L_pred"] = np.nan
    out.loc[ok, "L_pred"] = single.predict(x)
    if single.bootstrap:
        lo, hi = single.predict_interval(x, level=level, interval="mean")
        out["L_lower"], out["L_upper"] = np.nan, np.nan
        out.loc[ok, "L_lower"], out.loc[ok, "L_upper"] = lo, hi
    return out


@dataclass(frozen=True)
class ScheduleComparison:
    """Predicted final loss of candidate schedules for one budget of updates."""

    table: pd.DataFrame  # schedule, decay_frac, final loss [, interval, p_best], delta to the best
    steps: int  # updates in the budget
    peak_lr: float  # peak learning rate of every candidate
    best: dict  # the row of the lowest predicted final loss
    best_wsd: dict | None  # the best WSD decay fraction (row), when WSD was a candidate


def compare_schedules(
    fit: FitResult,
    *,
    steps: int,
    peak_lr: float,
    schedules: Sequence[str] = SCHEDULES,
    decay_fracs: Sequence[float] = tuple(np.round(np.arange(0.05, 0.65, 0.05), 2)),
    warmup_frac: float = 0.05,
    min_lr_ratio: float = 0.1,
    extra: Mapping[str, np.ndarray] | None = None,
    level: float = 0.95,
) -> ScheduleComparison:
    """Final loss after ``steps`` updates for each schedule (WSD once per decay fraction), best first.

    ``extra`` adds named custom schedules (arrays of ``steps`` LRs). With a bootstrap, each row also gets
    an interval and ``p_best``: the share of bootstrap fits in which that schedule is the best.
    """
    steps, peak_lr = steps_count(steps), positive(peak_lr, "the peak learning rate", "--peak-lr", "3e-3")
    warmup_frac = fraction(warmup_frac, "the warmup fraction", "--warmup-frac", upper_open=True)
    min_lr_ratio = fraction(min_lr_ratio, "the final LR / peak LR", "--min-lr-ratio")
    decay_fracs = [fraction(f, "a WSD decay fraction", "--decay-fracs") for f in decay_fracs]
    tail_percent(level)  # a bad level: the one-line error, before any work
    single, lam = _lam(fit)
    n_schedules = sum(len(decay_fracs) if name == "wsd" else 1 for name in schedules if name in SCHEDULES)
    check_schedule_work(steps, schedules=max(1, n_schedules + len(extra or {})))  # before building any of them
    candidates: list[tuple[str, float | None, np.ndarray]] = []
    for name in schedules:
        if name not in SCHEDULES:
            raise FitError(f"unknown schedule {name!r}; choose from {', '.join(SCHEDULES)}")
        fracs = decay_fracs if name == "wsd" else [None]
        for f in fracs:
            lr = trainer_schedule(name, steps, peak_lr, warmup_frac=warmup_frac, decay_frac=f or 0.0,
                                  min_lr_ratio=min_lr_ratio)
            candidates.append((name, None if f is None else float(f), lr))
    for name, lr in (extra or {}).items():
        lr = np.asarray(lr, dtype=float)
        if lr.size != steps:
            raise FitError(f"custom schedule {name!r} has {lr.size} updates, the budget is {steps}")
        candidates.append((name, None, lr))
    if not candidates:
        raise FitError("no schedules to compare")
    final = np.array([[a[-1] for a in areas(lr, lam)] for _, _, lr in candidates])
    s1, s2 = final[:, 0], final[:, 1]
    x = {"S1": s1, "S2": s2}
    table = pd.DataFrame({"schedule": [c[0] for c in candidates], "decay_frac": [c[1] for c in candidates],
                          "S1": s1, "S2": s2, "L_final": single.predict(x)})
    if single.bootstrap:
        samples = single.samples(x)
        table["L_lower"], table["L_upper"] = percentile_interval(samples, level, axis=0)
        wins = np.bincount(np.nanargmin(samples, axis=1), minlength=len(candidates))
        table["p_best"] = wins / samples.shape[0]
    table["delta_vs_best"] = table["L_final"] - table["L_final"].min()
    table = table.sort_values("L_final", kind="stable").reset_index(drop=True)
    wsd = table[table["schedule"] == "wsd"]
    return ScheduleComparison(
        table, int(steps), float(peak_lr), table.iloc[0].to_dict(),
        None if wsd.empty else wsd.iloc[0].to_dict(),
    )
