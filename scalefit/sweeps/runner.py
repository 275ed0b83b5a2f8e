"""The resumable sweep runner: plan, skip finished runs, execute the rest, keep runs.csv current.

``run_sweep(spec, out)`` expands the spec, names every run after the output folder, locks the folder and
records the spec in its manifest (``sweep.json``; a folder belongs to one spec, see ``sweeps.folder``),
skips runs that already have a result (keyed by run id, so an interrupted sweep resumes where it stopped
and a finished one does nothing), hands the rest to an executor (longest first, so the pool drains
evenly), and after each finished run rewrites ``runs.csv`` and ``curves.csv`` atomically from the
per-run results of every run in the folder. Progress goes to ``on_event`` (the CLI draws it); nothing
here prints.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from scalefit.errors import SweepError, SweepInterrupted
from scalefit.proxy.paths import check_name, check_out_folder
from scalefit.sweeps.estimate import estimate_seconds
from scalefit.sweeps.folder import claim, folder_lock
from scalefit.sweeps.spec import PlannedRun, SweepSpec, expand, spec_to_toml
from scalefit.sweeps.store import read_curve, read_result, write_tables

__all__ = ["SweepEvent", "SweepSummary", "plan_sweep", "run_sweep"]


class Executor(Protocol):
    def execute(self, runs: list[PlannedRun], sweep_dir: Path, emit: Any) -> None: ...


@dataclass(frozen=True)
class SweepEvent:
    """What the runner reports: ``plan``, ``start``, ``log`` (a curve row), ``done`` (a result row), ``lost``, ``end``.

    ``lost``: the run's Slurm task ended without a result (cancelled, preempted, its node failed); the run stays
    pending and the next call of the same sweep runs it again.
    """

    kind: str  # plan | start | log | done | lost | end
    run: PlannedRun | None = None  # the run concerned (None for plan and end)
    data: dict[str, Any] = field(default_factory=dict)  # plan: counts; log: curve row; done: result row;
    # lost: job, state, message
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
    lost: dict[str, str] = field(default_factory=dict)  # run_id -> why its Slurm task ended without a result


def plan_sweep(spec: SweepSpec, out: str | Path) -> tuple[Path, list[PlannedRun]]:
    """The sweep folder (absolute) and the spec's runs, named after it (the name is not part of run ids).

    ``out`` must name a folder (not ``.``, ``..`` or empty) that is not a file; its name must be a single
    folder name (see ``scalefit.proxy.paths``).
    """
    check_out_folder(out, "--out", SweepError)
    if Path(out).name in ("", ".", ".."):
        raise SweepError(f"--out {str(out)!r} does not name a sweep folder; give one, e.g. --out runs/my-sweep")
    sweep_dir = Path(out).resolve()
    check_name(sweep_dir.name, "sweep folder name", SweepError)
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
    add_runs: bool = False,
    on_event: Any = None,
    estimate_device: str = "cpu",
) -> SweepSummary:
    """Run the spec's unfinished runs into ``out`` (see the module docstring); returns a summary.

    ``retry_failed`` also re-runs runs recorded as ``failed`` (diverged runs are results, never retried).
    ``add_runs`` lets a folder that holds another spec's runs take this spec's runs too (``sweep.folder``).
    ``on_event(SweepEvent)`` receives progress. Ctrl-C (KeyboardInterrupt) stops the executor, rewrites the
    tables from the finished runs' folders and raises SweepInterrupted; its ``cancelled_jobs`` holds the Slurm
    job ids the executor cancelled (empty for local executors).
    """
    t0 = time.perf_counter()
    sweep_dir, runs = plan_sweep(spec, out)
    sweep_dir.mkdir(parents=True, exist_ok=True)
    with folder_lock(sweep_dir):
        order = claim(sweep_dir, source=spec.source, toml=spec_to_toml(spec), runs=_manifest_rows(runs),
                      add_runs=add_runs)  # fmt: skip
        return _run(runs, sweep_dir, order, executor, retry_failed, on_event or (lambda event: None),
                    estimate_device, t0)  # fmt: skip


class _Tables:
    """The finished runs of the whole folder (``order``: its run ids) and the writing of runs.csv/curves.csv."""

    def __init__(self, sweep_dir: Path, order: list[str]) -> None:
        self.sweep_dir, self.order = sweep_dir, {rid: i for i, rid in enumerate(order)}
        self.results: dict[str, dict[str, Any]] = {}
        self.curves: dict[str, Any] = {}
        self.reload()

    def reload(self) -> None:
        """Read every finished run's result and curve from its folder."""
        for rid in self.order:
            row = read_result(self.sweep_dir, rid)
            if row is not None:
                self.add(rid, row)

    def add(self, rid: str, row: dict[str, Any]) -> None:
        self.results[rid] = row
        self.curves[rid] = read_curve(self.sweep_dir, rid)

    def write(self) -> None:
        done = sorted(self.results.values(), key=lambda row: self.order[row["run_id"]])
        write_tables(self.sweep_dir, done, self.curves)


def trunks_first(runs: list[PlannedRun]) -> list[PlannedRun]:
    """``runs`` in their order, but a cooldown branch after its trunk when both are to run (a branch started
    before its trunk wrote its checkpoint would train its whole length, not only its cooldown)."""
    out: list[PlannedRun] = []
    placed: set[str] = set()
    waiting: dict[str, list[PlannedRun]] = {}
    todo = {r.run_id for r in runs}
    for run in runs:
        if run.trunk in todo and run.trunk not in placed:
            waiting.setdefault(run.trunk, []).append(run)
            continue
        out.append(run)
        placed.add(run.run_id)
        for branch in waiting.pop(run.run_id, []):
            out.append(branch)
            placed.add(branch.run_id)
    return out


def branch_waves(runs: list[PlannedRun]) -> list[list[PlannedRun]]:
    """``runs`` as waves for an executor that starts a whole wave at once (a Slurm array): first every run but the
    cooldown branches whose trunk is among them, then those branches (each from its trunk's checkpoint)."""
    todo = {r.run_id for r in runs}
    later = [r for r in runs if r.trunk in todo]
    first = [r for r in runs if r.trunk not in todo]
    return [wave for wave in (first, later) if wave]


def _run(runs, sweep_dir, order, executor, retry_failed, emit_event, estimate_device, t0) -> SweepSummary:
    tables = _Tables(sweep_dir, order)
    todo = [r for r in runs if r.run_id not in tables.results
            or (retry_failed and tables.results[r.run_id].get("status") == "failed")]  # fmt: skip
    estimates = {r.run_id: estimate_seconds(r.config, estimate_device, branch=bool(r.trunk)) for r in runs}
    todo = trunks_first(sorted(todo, key=lambda r: -estimates[r.run_id]))
    tables.write()
    emit_event(SweepEvent("plan", data={"planned": len(runs), "skipped": len(runs) - len(todo), "todo": len(todo),
                                        "estimate_s": sum(estimates[r.run_id] for r in todo)}))  # fmt: skip
    executed: list[str] = []
    lost: dict[str, str] = {}
    before = {r.run_id: tables.results.get(r.run_id) for r in todo}  # failed rows of retried runs

    def emit(kind: str, run: PlannedRun, data: dict) -> None:
        if kind == "done":
            tables.add(run.run_id, data)
            executed.append(run.run_id)
            tables.write()
        elif kind == "lost":
            lost[run.run_id] = str(data.get("message", "its job ended without a result"))
        emit_event(SweepEvent(kind, run, data, estimates[run.run_id]))

    try:
        if todo:
            executor.execute(todo, sweep_dir, emit)
    except KeyboardInterrupt as exc:
        tables.reload()  # runs finished in the workers after the last table write
        tables.write()
        finished = sum(tables.results.get(rid) not in (None, old) for rid, old in before.items())
        # the Slurm jobs the executor cancelled, if any
        raise SweepInterrupted(finished, len(runs), tuple(getattr(exc, "cancelled_jobs", ()))) from None
    counts: dict[str, int] = {}
    for run in runs:
        row = tables.results.get(run.run_id)
        status = "pending" if row is None else row.get("status", "failed")
        counts[status] = counts.get(status, 0) + 1
    summary = SweepSummary(sweep_dir, len(runs), len(runs) - len(todo), executed, counts, time.perf_counter() - t0,
                           lost)  # fmt: skip
    emit_event(SweepEvent("end", data={"counts": counts, "executed": len(executed), "lost": len(lost)}))
    return summary
