"""A sweep on disk: the manifest, per-run results, and the aggregated ``runs.csv`` and ``curves.csv``.

Layout of a sweep folder ``DIR`` (its name is the runs' ``name``)::

    DIR/sweep.json          manifest: the spec(s) with their fingerprints, planned run ids in order, sizes per run
    DIR/.lock               held (flock) by the sweep running in the folder, with its PID
    DIR/<run_id>/           one run (written by the trainer): config.json, curve.csv, result.json
    DIR/runs.csv            one row per finished run (canonical columns first), rewritten atomically
    DIR/curves.csv          one row per logged step of every finished run, with its run_id
    DIR/slurm_jobs.json     Slurm only: the job arrays that may still be queued, task id -> run id (sweeps.slurm_jobs)
    DIR/submitit/           Slurm only: submitit's pickles and the tasks' logs
    DIR/<run_id>/slurm_task Slurm only: the task that finished the run (a requeued task returns its result)

A run is finished when its ``result.json`` exists and parses; the trainer writes it last and atomically, so a
run killed mid-way has none and is run again. A result.json that parses but is not a result row is refused
(SweepError naming the file), never skipped over or overwritten. Failures get a ``result.json`` with status
``failed``, written here; divergences are written by the trainer with status ``diverged``.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalefit._io import write_csv_atomic, write_json_atomic, write_text_atomic
from scalefit._schema import (
    expect_fields,
    expect_finite_number,
    expect_int,
    expect_number,
    expect_str,
    fields_of,
    list_of,
    optional,
    read_json,
)
from scalefit.errors import FitFileError, SweepError
from scalefit.proxy.config import TrainConfig
from scalefit.proxy.paths import CHECKPOINT_FILE, name_problem

__all__ = [
    "CANONICAL_COLUMNS", "CURVE_COLUMNS", "SweepStatus", "failure_row", "fingerprint", "read_manifest",
    "read_result", "spec_entry", "sweep_status", "write_failure", "write_manifest", "write_tables",
]  # fmt: skip

# DESIGN.md's run-log columns, in order (the trainer's RESULT_COLUMNS; repeated here so sweeps need no torch).
CANONICAL_COLUMNS = (
    "run_id", "n_params", "n_params_nonembed", "n_tokens", "flops", "loss", "lr", "batch_size", "width",
    "depth", "parametrization", "schedule", "seed", "err_cloze", "tokens_per_s", "wall_s", "status",
)  # fmt: skip
# Extra columns kept in runs.csv after the canonical ones (when the result has them).
EXTRA_COLUMNS = (
    "tokens_per_param", "steps", "seq_len", "n_heads", "batch_tokens", "bits_per_byte", "train_loss",
    "flops_per_token", "mfu", "device", "message",
)  # fmt: skip
CURVE_COLUMNS = ("run_id", "n_params", "schedule", "step", "tokens", "lr", "train_loss", "loss", "wall_s",
                 "loss_cloze", "acc_cloze")  # the last two: per-checkpoint cloze task loss/accuracy (cloze on)
RUN_COLUMNS = CURVE_COLUMNS[:3]  # the columns curves.csv takes from each run's result row
MANIFEST = "sweep.json"
RESULT = "result.json"
STATUSES = ("ok", "diverged", "failed")  # what a result.json may record
RESULT_FIELDS = {"run_id": expect_str, "status": expect_str, "loss": optional(expect_number)}
# fields sweep-status reads besides those (a hand-edited "wall_s": "abc" is refused, not a traceback)
RESULT_OPTIONAL = {"wall_s": optional(expect_finite_number), "n_params": optional(expect_int),
                   "n_tokens": optional(expect_int), "message": optional(expect_str)}
MANIFEST_FIELDS = {"name": expect_str, "runs": list_of(fields_of({"run_id": expect_str}))}
MANIFEST_OPTIONAL = {"specs": list_of(fields_of({"source": expect_str, "fingerprint": expect_str}))}


def run_dir(sweep_dir: Path, rid: str) -> Path:
    """``sweep_dir/rid``; SweepError when it is a symbolic link or not a folder (never followed, never written)."""
    path = Path(sweep_dir) / rid
    if path.is_symlink():
        raise SweepError(f"{path} is a symbolic link (to {os.readlink(path)!r}); a sweep never follows a link for a "
                         f"run folder (its files would land outside {sweep_dir}): remove the link to run it here")
    if path.exists() and not path.is_dir():
        raise SweepError(f"{path} is not a folder; remove it to run that run here")
    return path


def read_result(sweep_dir: Path, rid: str) -> dict[str, Any] | None:
    """The run's result row, or None when it has not finished (no result.json, or a truncated/invalid one).

    A result.json that is valid JSON but not a result row (wrong shape, status or loss, another run's id)
    raises SweepError naming the file: it is not the trainer's, so the run is neither skipped nor re-run silently.
    """
    path = run_dir(sweep_dir, rid) / RESULT
    try:
        row = read_json(path, what="run result")
    except FitFileError:  # absent, empty, truncated, not JSON: the run has not finished
        return None
    try:
        checked = expect_fields(row, "", RESULT_FIELDS, RESULT_OPTIONAL)
        if checked["run_id"] != rid:
            raise FitFileError(f"run_id {checked['run_id']!r} is not its folder's {rid!r}")
        if checked["status"] not in STATUSES:
            raise FitFileError(f"status {checked['status']!r} is not one of {', '.join(STATUSES)}")
    except FitFileError as exc:
        fix = f"delete the folder {path.parent} to re-run that run"
        raise SweepError(f"{path}: not a run result ({exc}); {fix}") from None
    return row


def read_curve(sweep_dir: Path, rid: str):
    """The run's curve.csv as a frame (None when absent); an unreadable one raises SweepError naming it."""
    import pandas as pd

    path = run_dir(sweep_dir, rid) / "curve.csv"
    if not path.is_file():
        return None
    try:
        frame = pd.read_csv(path)
    except ValueError as exc:  # pandas' parser errors, binary files
        problem = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    else:
        if {"step", "loss"} <= set(frame.columns):
            return frame[[c for c in CURVE_COLUMNS if c in frame.columns and c not in RUN_COLUMNS]]
        problem = f"columns {', '.join(map(str, frame.columns[:6]))} lack step and loss"
    raise SweepError(f"{path}: unreadable curve ({problem}); delete the folder {path.parent} to re-run that run")


def failure_row(config: TrainConfig, rid: str, message: str, *, wall_s: float = float("nan")) -> dict[str, Any]:
    """Result row of a run that raised: sizes from its config, no loss, status ``failed``."""
    from scalefit.proxy.counting import count_params, flops_per_token

    mcfg = config.model_config()
    counts = count_params(mcfg)
    return {
        "run_id": rid, "n_params": counts["n_params"], "n_params_nonembed": counts["n_params_nonembed"],
        "n_tokens": config.n_tokens, "flops": float(flops_per_token(mcfg)) * config.n_tokens, "loss": None,
        "lr": config.lr, "batch_size": config.batch_size, "width": config.width, "depth": config.depth,
        "parametrization": config.parametrization, "schedule": config.schedule, "seed": config.seed,
        "err_cloze": None, "tokens_per_s": None, "wall_s": None if math.isnan(wall_s) else wall_s,
        "status": "failed", "name": config.name, "seq_len": config.seq_len, "n_heads": config.n_heads,
        "message": message,
    }  # fmt: skip


def write_failure(sweep_dir: Path, row: dict[str, Any], traceback_text: str = "") -> None:
    """Record a failed run: ``result.json`` (status failed) and, when given, ``error.txt`` with the traceback."""
    folder = run_dir(sweep_dir, row["run_id"])
    if traceback_text:
        write_text_atomic(folder / "error.txt", traceback_text, within=sweep_dir)
    write_json_atomic(folder / RESULT, row, within=sweep_dir)


def fingerprint(run_ids: list[str]) -> str:
    """A spec's fingerprint: a hash of the set of its run ids (each run id hashes a resolved run config)."""
    return hashlib.sha256(json.dumps(sorted(run_ids)).encode()).hexdigest()[:16]


def spec_entry(source: str, toml: str, run_ids: list[str]) -> dict[str, Any]:
    """One spec of a sweep folder, as the manifest records it."""
    return {"source": source, "fingerprint": fingerprint(run_ids), "toml": toml}


def write_manifest(sweep_dir: Path, *, name: str, specs: list[dict[str, Any]], runs: list[dict]) -> None:
    """Write ``sweep.json``: the specs the folder holds and their runs (one dict per run, in order)."""
    write_json_atomic(
        sweep_dir / MANIFEST,
        {"name": name, "source": " + ".join(s["source"] for s in specs), "specs": specs, "runs": runs},
        within=sweep_dir,
    )  # no timestamp: re-runs rewrite it unchanged


def read_manifest(sweep_dir: Path) -> dict[str, Any]:
    """The folder's ``sweep.json``, checked; one written before specs were recorded gets its one spec."""
    path = sweep_dir / MANIFEST
    if not path.is_file():
        raise SweepError(f"{sweep_dir} is not a sweep folder (no {MANIFEST}); start one with `scalefit sweep`")
    try:
        manifest = expect_fields(read_json(path, what="sweep manifest"), "", MANIFEST_FIELDS, MANIFEST_OPTIONAL)
        bad = [r["run_id"] for r in manifest["runs"] if name_problem(r["run_id"])]
        if bad:
            raise FitFileError(f"run_id {bad[0]!r} is not a folder name")
    except FitFileError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
        raise SweepError(f"{path}: not a sweep manifest ({problem}); delete it and re-run the sweep command") from None
    if "specs" not in manifest:  # written before folders recorded their specs
        old = manifest.get("spec")
        toml = str(old.get("toml", "")) if isinstance(old, dict) else ""
        ids = [r["run_id"] for r in manifest["runs"]]
        manifest["specs"] = [spec_entry(str(manifest.get("source", "?")), toml, ids)]
    return manifest


def _runs_frame(rows: list[dict[str, Any]]):
    import pandas as pd

    extras = [c for c in EXTRA_COLUMNS if any(c in r for r in rows)]
    return pd.DataFrame([{c: r.get(c) for c in (*CANONICAL_COLUMNS, *extras)} for r in rows])


def write_tables(sweep_dir: Path, rows: list[dict[str, Any]], curves: dict[str, Any]) -> None:
    """Rewrite ``runs.csv`` (``rows`` in order) and ``curves.csv`` (their curves), each atomically."""
    import pandas as pd

    if rows:
        write_csv_atomic(sweep_dir / "runs.csv", _runs_frame(rows), within=sweep_dir)
    parts = []
    for row in rows:
        curve = curves.get(row["run_id"])
        if curve is not None and len(curve):
            part = curve.copy()
            part.insert(0, "run_id", row["run_id"])
            part.insert(1, "n_params", row.get("n_params"))
            part.insert(2, "schedule", row.get("schedule"))
            parts.append(part)
    if parts:
        frame = pd.concat(parts, ignore_index=True)
        write_csv_atomic(sweep_dir / "curves.csv", frame[[c for c in CURVE_COLUMNS if c in frame.columns]],
                         within=sweep_dir)


@dataclass(frozen=True)
class SweepStatus:
    """Summary of a sweep folder: counts by status, and the failed runs' messages."""

    name: str  # sweep name
    source: str  # spec file or preset
    planned: int  # runs in the manifest
    counts: dict[str, int]  # status -> runs (ok, diverged, failed, pending)
    wall_s: float  # summed wall time of finished runs
    messages: dict[str, str] = field(default_factory=dict)  # run_id -> message of failed/diverged runs
    best: dict[str, Any] | None = None  # the ok run with the lowest loss (run_id, loss, n_params, n_tokens)
    checkpoints: int = 0  # mid-run checkpoints in the folder (unfinished runs, or kept with keep_checkpoints)
    checkpoint_bytes: int = 0  # the disk they use

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "source": self.source, "planned": self.planned, "counts": self.counts,
            "wall_s": self.wall_s, "messages": self.messages, "best": self.best, "checkpoints": self.checkpoints,
            "checkpoint_bytes": self.checkpoint_bytes,
        }  # fmt: skip


def sweep_status(sweep_dir: str | Path) -> SweepStatus:
    """Read a sweep folder and count its runs by status (``pending`` = planned but not finished)."""
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    counts = {"ok": 0, "diverged": 0, "failed": 0, "pending": 0}
    wall, messages, best = 0.0, {}, None
    for run in manifest["runs"]:
        row = read_result(sweep_dir, run["run_id"])
        status = "pending" if row is None else row.get("status", "failed")
        counts[status] = counts.get(status, 0) + 1
        if row is None:
            continue
        wall += float(row.get("wall_s") or 0.0)
        if status != "ok":
            messages[run["run_id"]] = str(row.get("message", ""))
        elif row.get("loss") is not None and (best is None or row["loss"] < best["loss"]):
            best = {k: row.get(k) for k in ("run_id", "loss", "n_params", "n_tokens")}
    ckpts, ckpt_bytes = 0, 0  # the runs' mid-run checkpoints (a linked run folder is not followed)
    for run in manifest["runs"]:
        ckpt = sweep_dir / run["run_id"] / CHECKPOINT_FILE
        if ckpt.is_file() and not ckpt.parent.is_symlink():
            ckpts, ckpt_bytes = ckpts + 1, ckpt_bytes + ckpt.stat().st_size
    return SweepStatus(manifest["name"], manifest["source"], len(manifest["runs"]), counts, wall, messages, best,
                       ckpts, ckpt_bytes)  # fmt: skip
