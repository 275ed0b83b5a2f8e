"""Loss-curve logs: learning-rate schedules per update and the areas S1, S2 of the lr-annealing law.

A *curve log* has one row per logged step: ``run_id, step, lr, loss`` (``run_id`` may be left out for
a single run). The lr-annealing law needs the LR of **every** update, so for each run the schedule is:

1. **dense**: the ``lr`` column itself, when the run has a row with an LR for every step 1..T (rows
   without an evaluation may leave ``loss`` empty); or
2. **reconstructed** from schedule metadata columns, constant within a run: ``schedule`` (cosine, wsd,
   linear, constant), ``peak_lr``, ``total_steps``, ``warmup_steps`` and, for wsd, ``decay_steps``
   (``min_lr_ratio`` optional, default 0.1), using the proxy trainer's schedules; the logged ``lr``
   values must agree with the reconstruction (checked);
3. otherwise an error that says which of the two to provide. Sparse LR values are never interpolated.

``read_curves(path)`` also reads a folder of runs written by ``scalefit train`` (``*/curve.csv`` next to
``config.json``), filling the metadata columns from each run's resolved config. Steps count updates:
the row at step s holds the loss after s updates and the LR of update s.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from scalefit._budget import WORK_BYTES, WORK_STEPS, check_work
from scalefit._schema import expect_fields, expect_finite_number, expect_int, expect_str, optional, read_json
from scalefit.errors import FitFileError, PlanInputError, RunDataError
from scalefit.laws.lr_annealing import DEFAULT_LAMBDA, areas
from scalefit.runs.table import RunTable, read_runs
from scalefit.schedules import lr_multiplier, phase_steps

SCHEDULES = ("cosine", "wsd", "linear", "constant")
META = ("schedule", "peak_lr", "total_steps", "warmup_steps", "decay_steps", "min_lr_ratio")
DEFAULT_MIN_LR_RATIO = 0.1


def schedule_lr(schedule: str, steps: int, peak_lr: float, *, warmup_steps: int = 0, decay_steps: int = 0,
                min_lr_ratio: float = DEFAULT_MIN_LR_RATIO, option: str = "--steps") -> np.ndarray:
    """The LR of each of ``steps`` updates (update 1 first) for a named schedule, exactly as the trainer runs it.

    Linear warmup over ``warmup_steps``, then cosine / linear decay to ``min_lr_ratio * peak_lr``, constant,
    or wsd (stable, then a linear decay over the last ``decay_steps``); see ``scalefit.schedules``. ``steps`` is
    checked against the work budget first (``option`` names it in the one-line error).
    """
    if schedule not in SCHEDULES:
        raise RunDataError(f"unknown schedule {schedule!r}; choose one of {', '.join(SCHEDULES)} or give a CSV")
    steps, warmup_steps, decay_steps = int(steps), int(warmup_steps), int(decay_steps)
    if steps < 1 or not peak_lr > 0:
        raise RunDataError(f"a schedule needs steps >= 1 and peak_lr > 0, got steps={steps}, peak_lr={peak_lr}")
    if not (0 <= warmup_steps < steps and 0 <= decay_steps <= steps and 0 <= min_lr_ratio <= 1):
        raise RunDataError(
            f"schedule {schedule}: need 0 <= warmup_steps ({warmup_steps}) < steps ({steps}), "
            f"0 <= decay_steps ({decay_steps}) <= steps and 0 <= min_lr_ratio ({min_lr_ratio}) <= 1"
        )
    check_schedule_work(steps, option=option)
    mult = [
        lr_multiplier(i, total=steps, schedule=schedule, warmup=warmup_steps, min_ratio=min_lr_ratio, decay=decay_steps)
        for i in range(steps)
    ]
    return float(peak_lr) * np.asarray(mult, dtype=float)


SCHEDULE_BYTES = 48  # memory per update of a schedule being built (a Python float in a list, then the array)


def check_schedule_work(steps: int, *, schedules: int = 1, per_step_bytes: int = SCHEDULE_BYTES,
                        option: str = "--steps") -> None:
    """PlanInputError before any work when ``schedules`` schedules of ``steps`` updates (built one update at a
    time, ``per_step_bytes`` each) are over the work budget (:func:`scalefit._budget.check_work`)."""
    most = max(1, min(WORK_STEPS, WORK_BYTES // per_step_bytes) // schedules)
    check_work(option, steps, PlanInputError, f"use {option} {most:,} or fewer", nbytes=steps * schedules *
               per_step_bytes, steps=steps * schedules)


def trainer_schedule(schedule: str, steps: int, peak_lr: float, *, warmup_frac: float = 0.05, decay_frac: float = 0.2,
                     min_lr_ratio: float = DEFAULT_MIN_LR_RATIO) -> np.ndarray:
    """:func:`schedule_lr` with the trainer's fractions: warmup and wsd decay as fractions of ``steps`` (rounded)."""
    if not (0 <= warmup_frac < 1 and 0 <= decay_frac <= 1):
        raise RunDataError(f"need 0 <= warmup_frac < 1 and 0 <= decay_frac <= 1, got {warmup_frac}, {decay_frac}")
    warmup_steps, decay_steps = phase_steps(steps, warmup_frac, decay_frac)
    return schedule_lr(
        schedule, steps, peak_lr, warmup_steps=warmup_steps,
        decay_steps=decay_steps if schedule == "wsd" else 0, min_lr_ratio=min_lr_ratio,
    )


def lr_from_csv(path: str | Path) -> np.ndarray:
    """A schedule from a CSV with columns ``step, lr`` holding the LR of every update 1..T (dense, checked)."""
    table = read_runs(path)
    missing = [c for c in ("step", "lr") if c not in table.columns]
    if missing:
        raise RunDataError(f"{table.source}: a schedule CSV needs columns step, lr; missing {missing}")
    lr = _dense_lr(table, table.frame)
    if lr is None:
        steps = pd.to_numeric(table.frame["step"], errors="coerce")
        raise RunDataError(
            f"{table.source}: the schedule must give the LR of every update 1..T (one row per step); it has "
            f"{len(table)} rows for steps up to {steps.max():g}"
        )
    return lr


def _steps(table: RunTable, rows: pd.DataFrame) -> np.ndarray:
    steps = pd.to_numeric(rows["step"], errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(steps) | (steps < 0) | (steps != np.round(steps))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RunDataError(f"{table.location(rows.index[i], 'step')}: step must be a whole number >= 0, got "
                           f"{rows['step'].iloc[i]!r}")
    return steps.astype(int)


def _dense_lr(table: RunTable, rows: pd.DataFrame) -> np.ndarray | None:
    """The LR of updates 1..T when every one is logged; None when some are missing."""
    steps = _steps(table, rows)
    lr = pd.to_numeric(rows["lr"], errors="coerce").to_numpy(dtype=float)
    known = np.isfinite(lr) & (steps >= 1)
    if not known.any():
        return None
    total = int(steps.max())
    by_step = pd.Series(lr[known], index=steps[known]).groupby(level=0).first()
    if len(by_step) < total:
        return None
    out = by_step.reindex(np.arange(1, total + 1)).to_numpy(dtype=float)
    if (out < 0).any():
        i = int(np.flatnonzero(out < 0)[0])
        raise RunDataError(f"{table.source}: negative learning rate {out[i]:g} at step {i + 1}")
    return out


def _meta(table: RunTable, rows: pd.DataFrame, run: str) -> dict | None:
    """The run's schedule metadata, or None when the required columns are absent."""
    need = ("schedule", "peak_lr", "total_steps", "warmup_steps")
    if not all(c in rows.columns for c in need):
        return None
    out = {}
    for col in META:
        if col not in rows.columns:
            continue
        vals = rows[col].dropna().unique()
        if len(vals) != 1:
            raise RunDataError(f"{table.source}: run {run!r}: column {col!r} must hold one value per run, got "
                               f"{list(vals)[:4]}")
        out[col] = vals[0]
    if out["schedule"] == "wsd" and "decay_steps" not in out:
        raise RunDataError(f"{table.source}: run {run!r} is wsd: add a decay_steps column (updates in the final decay)")
    return out


def run_schedule(table: RunTable, rows: pd.DataFrame, run: str = "<run>") -> np.ndarray:
    """The LR of every update of one run (dense ``lr`` column, or reconstructed from metadata; see module doc)."""
    has_lr = "lr" in rows.columns
    if has_lr:
        dense = _dense_lr(table, rows)
        if dense is not None:
            return dense
    meta = _meta(table, rows, run)
    if meta is None:
        n_lr = int(pd.to_numeric(rows["lr"], errors="coerce").notna().sum()) if has_lr else 0
        top = int(_steps(table, rows).max())
        raise RunDataError(
            f"{table.source}: run {run!r}: the lr-annealing law needs the learning rate of every update, but the "
            f"log gives it at {n_lr} of {top} steps. Either log one row per step with its lr (loss may be empty "
            "on rows without an evaluation), or add schedule columns schedule, peak_lr, total_steps, warmup_steps "
            "[, decay_steps, min_lr_ratio] to rebuild it, or pass the folder of runs written by `scalefit train`"
        )
    lr = schedule_lr(
        str(meta["schedule"]), int(meta["total_steps"]), float(meta["peak_lr"]),
        warmup_steps=int(meta["warmup_steps"]), decay_steps=int(meta.get("decay_steps", 0)),
        min_lr_ratio=float(meta.get("min_lr_ratio", DEFAULT_MIN_LR_RATIO)),
        option=f"{table.source}: run {run!r}: total_steps",
    )
    steps = _steps(table, rows)
    if steps.max() > lr.size:
        raise RunDataError(f"{table.source}: run {run!r} logs step {steps.max()} beyond total_steps {lr.size}")
    if has_lr:
        logged = pd.to_numeric(rows["lr"], errors="coerce").to_numpy(dtype=float)
        ok = np.isfinite(logged) & (steps >= 1)
        want = lr[steps[ok] - 1]
        off = np.abs(logged[ok] - want) > 1e-6 * np.maximum(np.abs(want), 1e-12)
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise RunDataError(
                f"{table.source}: run {run!r}: logged lr {logged[ok][i]:.6g} at step {steps[ok][i]} disagrees with the "
                f"{meta['schedule']} schedule rebuilt from the metadata ({want[i]:.6g}); check peak_lr, total_steps, "
                "warmup_steps, decay_steps and min_lr_ratio, or log the lr of every step"
            )
    return lr


def run_ids(table: RunTable, run_col: str = "run_id") -> pd.Series:
    """The run of each row: ``run_col`` when present, else one run (steps must then not repeat)."""
    if run_col in table.columns:
        return table.frame[run_col].astype(str)
    steps = _steps(table, table.frame)
    if pd.Series(steps).duplicated().any():
        raise RunDataError(
            f"{table.source}: steps repeat but there is no {run_col!r} column; a curve log with several runs needs "
            f"a {run_col} column saying which run each row belongs to"
        )
    return pd.Series("run", index=table.frame.index)


def with_areas(table: RunTable, lam: float = DEFAULT_LAMBDA, *, run_col: str = "run_id") -> RunTable:
    """A copy of the curve log with columns ``S1``, ``S2`` (and ``warmup_end``) added per row; see module doc."""
    if "step" not in table.columns:
        raise RunDataError(f"{table.source}: a curve log needs a 'step' column (updates done); columns are "
                           f"{table.columns}")
    frame = table.frame.copy()
    frame["S1"], frame["S2"], frame["warmup_end"] = np.nan, np.nan, 0
    runs = run_ids(table, run_col)
    for run, rows in frame.groupby(runs, sort=False):
        lr = run_schedule(table, rows, str(run))
        s1, s2 = areas(lr, lam)
        steps = _steps(table, rows)
        idx = np.clip(steps - 1, 0, None)
        frame.loc[rows.index, "S1"] = np.where(steps >= 1, s1[idx], 0.0)
        frame.loc[rows.index, "S2"] = np.where(steps >= 1, s2[idx], 0.0)
        frame.loc[rows.index, "warmup_end"] = int(np.argmax(lr >= lr.max())) + 1  # the step reaching the peak
    return RunTable(frame, table.source)


def read_curves(data: RunTable | pd.DataFrame | str | Path) -> RunTable:
    """A curve log: a RunTable or DataFrame (:func:`scalefit.fitting.api.as_table`), a CSV/TSV/Parquet file, or a
    folder of ``scalefit train`` runs (see module doc)."""
    from scalefit.fitting.api import as_table

    p = Path(data) if isinstance(data, (str, Path)) else None
    if p is None or not p.is_dir():
        return as_table(data)
    parts = []
    for curve in sorted(p.rglob("curve.csv")):
        cfg_path = curve.parent / "config.json"
        if not cfg_path.is_file():
            continue
        parts.append(_run_frame(curve, _run_file(cfg_path, RUN_CONFIG, RUN_CONFIG_OPTIONAL)))
    if not parts:
        raise RunDataError(
            f"{p}: no runs found (looked for */curve.csv next to config.json, as `scalefit train` writes them)"
        )
    return RunTable.from_frame(pd.concat(parts, ignore_index=True), str(p))


# config.json fields the schedule is rebuilt from, and the optional ones copied to every row.
RUN_CONFIG = {"n_tokens": expect_int, "batch_size": expect_int, "seq_len": expect_int, "schedule": expect_str,
              "lr": expect_finite_number, "warmup_frac": expect_finite_number, "decay_frac": expect_finite_number,
              "min_lr_ratio": expect_finite_number}  # fmt: skip
RUN_CONFIG_OPTIONAL = {"run_id": optional(expect_str), "name": optional(expect_str), "width": optional(expect_int),
                       "depth": optional(expect_int)}  # fmt: skip
RUN_RESULT_OPTIONAL = {"n_params": optional(expect_int), "status": optional(expect_str)}


def _run_file(path: Path, required: dict, optional_: dict) -> dict:
    """A run's JSON file (config.json, result.json), checked; RunDataError naming it and how to fix it."""
    try:
        obj = expect_fields(read_json(path, what="run file"), "", required, optional_)
        if "n_tokens" in required and not 0 < obj["batch_size"] * obj["seq_len"] <= obj["n_tokens"]:
            raise FitFileError("n_tokens, batch_size and seq_len do not make one whole step")
    except FitFileError as exc:
        raise _bad_run_file(path, str(exc).removeprefix(f"{path}: ")) from None
    return obj


def _bad_run_file(path: Path, problem: str) -> RunDataError:
    return RunDataError(f"{path}: {problem}; it must be the file `scalefit train` wrote: restore it, or remove "
                        f"the run folder {path.parent} from {path.parent.parent}")  # fmt: skip


def _run_frame(curve: Path, cfg: dict) -> pd.DataFrame:
    try:
        frame = pd.read_csv(curve)
    except ValueError as exc:  # pandas' parser errors, binary files
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
        raise _bad_run_file(curve, f"unreadable CSV ({first})") from None
    total = int(cfg["n_tokens"]) // (int(cfg["batch_size"]) * int(cfg["seq_len"]))
    meta = {
        "run_id": cfg.get("run_id") or curve.parent.name,
        "schedule": cfg["schedule"],
        "peak_lr": float(cfg["lr"]),
        "total_steps": total,
        "warmup_steps": int(round(float(cfg["warmup_frac"]) * total)),
        "decay_steps": int(round(float(cfg["decay_frac"]) * total)),
        "min_lr_ratio": float(cfg["min_lr_ratio"]),
        "width": cfg.get("width"),
        "depth": cfg.get("depth"),
        "name": cfg.get("name"),
    }
    result = curve.parent / "result.json"
    if result.is_file():
        res = _run_file(result, {}, RUN_RESULT_OPTIONAL)
        meta["n_params"] = res.get("n_params")
        meta["status"] = res.get("status")
    for k, v in meta.items():
        frame[k] = v
    return frame
