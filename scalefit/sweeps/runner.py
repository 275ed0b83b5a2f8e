"""The resumable sweep runner: plan, skip finished runs, execute the rest, keep runs.csv current.

``run_sweep(spec, out)`` expands the spec, names every run after the output folder, writes the manifest
(``sweep.json``), skips runs that already have a result (keyed by run id, so an interrupted sweep resumes
where it stopped and a finished one does nothing), hands the rest to an executor (longest first, so the
pool drains evenly), and after each finished run rewrites ``runs.csv`` and ``curves.csv`` atomically from
the per-run results. Progress goes to ``on_event`` (the CLI draws it); nothing here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from scalefit.sweeps.estimate import estimate_seconds
from scalefit.sweeps.spec import PlannedRun, SweepSpec, expand, spec_to_toml
from scalefit.sweeps.store import read_curve, read_result, write_manifest, write_tables

__all__ = ["SweepEvent", "SweepSummary", "plan_sweep", "run_sweep"]


class Executor(Protocol):
    def execute(self, runs: list[PlannedRun], sweep_dir: Path, emit: Any) -> None: ...


@dataclass(frozen=True)
class SweepEvent:
    """What the runner reports: ``plan``, ``start``, ``log`` (a curve row), ``done`` (a result row), ``end``."""

    kind: str  # plan | start | log | done | end
    run: PlannedRun | None = None  # the run concerned (None for plan and end)
    data: dict[str, Any] = field(default_factory=dict)  # plan: counts; log: curve row; done: result row
    estimate_s: float = 0.0  # estimated wall seconds of the run (start, done)


@dataclass(frozen=True)
class SweepSummary:
    """Outcome of one ``run_sweep`` call."""

    sweep_dir: Path  # the sweep folder
    planned: int  # runs in the spec
    skipped: int  # already finished before this call
    executed: list[str]  # run ids finished by this call, in completion order
    counts: dict[str, int]  # status -> runs, over the whole sweep after this call
    wall_s: float  # seconds this call took


def plan_sweep(spec: SweepSpec, out: str | Path) -> tuple[Path, list[PlannedRun]]:
    """The sweep folder (absolute) and the spec's runs, named after it (the name is not part of run ids)."""
    sweep_dir = Path(out).resolve()
    runs = [replace(r, config=replace(r.config, name=sweep_dir.name)) for r in expand(spec)]
    return sweep_dir, runs


def _manifest_rows(runs: list[PlannedRun]) -> list[dict[str, Any]]:
    return [
        {"run_id": r.run_id, "where": r.where, "axes": {k: list(v) if isinstance(v, tuple) else v
         for k, v in r.axes.items()}, "n_params": r.n_params, "n_tokens": r.n_tokens, "flops": r.flops}
        for r in runs
    ]  # fmt: skip


def run_sweep(
    spec: SweepSpec,
    out: str | Path,
    *,
    executor: Executor,
    retry_failed: bool = False,
    on_event: Any = None,
    estimate_device: str = "cpu",
) -> SweepSummary:
    """Run the spec's unfinished runs into ``out`` (see the module docstring); returns a summary.

    ``retry_failed`` also re-runs runs recorded as ``failed`` (diverged runs are results, never retried).
    ``on_event(SweepEvent)`` receives progress.
    """
    t0 = time.perf_counter()
    sweep_dir, runs = plan_sweep(spec, out)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    write_manifest(sweep_dir, name=sweep_dir.name, source=spec.source, spec={"toml": spec_to_toml(spec)},
                   runs=_manifest_rows(runs))  # fmt: skip
    results: dict[str, dict[str, Any]] = {}
    curves: dict[str, Any] = {}
    todo: list[PlannedRun] = []
    for run in runs:
        row = read_result(sweep_dir, run.run_id)
        if row is not None and not (retry_failed and row.get("status") == "failed"):
            results[run.run_id] = row
            curves[run.run_id] = read_curve(sweep_dir, run.run_id)
        else:
            todo.append(run)
    estimates = {r.run_id: estimate_seconds(r.config, estimate_device) for r in runs}
    todo.sort(key=lambda r: -estimates[r.run_id])
    order = {r.run_id: i for i, r in enumerate(runs)}

    def write() -> None:
        done = sorted(results.values(), key=lambda row: order[row["run_id"]])
        write_tables(sweep_dir, done, curves)

    emit_event = on_event or (lambda event: None)
    write()
    emit_event(SweepEvent("plan", data={"planned": len(runs), "skipped": len(results), "todo": len(todo),
                                        "estimate_s": sum(estimates[r.run_id] for r in todo)}))  # fmt: skip
    executed: list[str] = []

    def emit(kind: str, run: PlannedRun, data: dict) -> None:
        if kind == "done":
            results[run.run_id] = data
            curves[run.run_id] = read_curve(sweep_dir, run.run_id)
            executed.append(run.run_id)
            write()
        emit_event(SweepEvent(kind, run, data, estimates[run.run_id]))

    if todo:
        executor.execute(todo, sweep_dir, emit)
    counts: dict[str, int] = {}
    for run in runs:
        status = results[run.run_id].get("status", "failed") if run.run_id in results else "pending"
        counts[status] = counts.get(status, 0) + 1
    summary = SweepSummary(sweep_dir, len(runs), len(runs) - len(todo), executed, counts, time.perf_counter() - t0)
    emit_event(SweepEvent("end", data={"counts": counts, "executed": len(executed)}))
    return summary
