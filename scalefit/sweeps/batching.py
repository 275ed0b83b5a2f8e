"""Packing a sweep's runs into batches that train as one model (``scalefit.proxy.batched``).

``pack(runs, batch_runs, device)`` groups the runs that share a shape (``proxy.group.group_key``: model,
batch size, corpus, optimizer form, device) and cuts each group into batches of at most K members, as even
as possible, in the order the runs came (the runner puts the longest first). A batch is a ``RunBatch``; a
run left alone stays a ``PlannedRun``. Executors train a batch with ``execute_batch``, which writes every
member's own run folder exactly as a single run would, so run ids, ``runs.csv`` and resuming are unchanged: a
batch stopped midway leaves the members that had finished (result.json written when each left the batch)
and the next call of the sweep runs the others, packed again.

K (``--batch-runs``): 1 turns batching off; the default (``default_batch_runs``) depends on the device and
the model size. On CPU it is 1: a CPU step of these models is compute-bound (attention and matmuls), so one
batched step costs as much as its members' steps one by one (benchmarks/results/bench_batched_train.json).
On a GPU small models leave the device idle between kernel launches; K shrinks as models grow.
"""

from __future__ import annotations

import math
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalefit.errors import SweepError
from scalefit.proxy.config import TrainConfig, run_id
from scalefit.proxy.counting import count_params
from scalefit.proxy.group import group_key
from scalefit.sweeps.spec import PlannedRun
from scalefit.sweeps.store import failure_row, read_result, run_dir, write_failure

__all__ = ["GPU_BATCH_RUNS", "RunBatch", "default_batch_runs", "execute_batch", "members", "pack", "remaining"]

# (largest n_params, K) on a GPU: members per batch by model size; larger models train alone.
GPU_BATCH_RUNS = ((2e6, 16), (2e7, 8), (6e7, 4))


@dataclass(frozen=True)
class RunBatch:
    """Runs of one shape that train as one batched model."""

    runs: tuple[PlannedRun, ...]

    @property
    def run_id(self) -> str:
        """The members' run ids joined with '+' (a key for the executor's bookkeeping, never a folder)."""
        return "+".join(r.run_id for r in self.runs)


def members(unit: PlannedRun | RunBatch) -> tuple[PlannedRun, ...]:
    """The runs of a unit of work: a batch's members, or the run itself."""
    return unit.runs if isinstance(unit, RunBatch) else (unit,)


def default_batch_runs(config: TrainConfig, device: str) -> int:
    """Members per batch when ``--batch-runs`` is not given: 1 on CPU; on CUDA by model size (GPU_BATCH_RUNS)."""
    if device != "cuda":
        return 1
    n_params = count_params(config.model_config())["n_params"]
    return next((k for limit, k in GPU_BATCH_RUNS if n_params <= limit), 1)


def pack(runs: list[PlannedRun], batch_runs: int | None, device: str) -> list[PlannedRun | RunBatch]:
    """The runs as units of work: batches of at most K same-shape runs (``batch_runs``; None: the default)."""
    if batch_runs is not None and batch_runs < 1:
        raise SweepError(f"--batch-runs must be at least 1, got {batch_runs}")
    groups: dict[Any, list[PlannedRun]] = {}
    for run in runs:
        groups.setdefault(group_key(run.config), []).append(run)
    position = {r.run_id: i for i, r in enumerate(runs)}
    units: list[PlannedRun | RunBatch] = []
    for group in groups.values():
        k = batch_runs if batch_runs is not None else default_batch_runs(group[0].config, device)
        if group[0].config.devices > 1 or group[0].config.cooldown_branches:
            k = 1  # several devices (the batched trainer uses one), or a WSD trunk writing its branches' checkpoints
        n_batches = math.ceil(len(group) / k)
        size = math.ceil(len(group) / n_batches)  # as even as possible: 7 runs at K = 6 are 4 + 3, not 6 + 1
        for start in range(0, len(group), size):
            chunk = tuple(group[start : start + size])
            units.append(chunk[0] if len(chunk) == 1 else RunBatch(chunk))
    return sorted(units, key=lambda u: position[members(u)[0].run_id])


def execute_batch(
    configs: list[dict[str, Any]],
    sweep_dir: str,
    threads: int = 0,
    on_log: Callable[[str, dict], None] | None = None,
) -> list[dict[str, Any]]:
    """Train runs of a sweep as one batch into ``sweep_dir/<run_id>/``; their result rows (failures included).

    The batched counterpart of ``executors.execute_run``: ``on_log(run_id, row)`` gets each member's curve rows.
    When the batch raises, every member without a result is recorded as ``failed`` (message, error.txt).
    """
    from scalefit.sweeps.executors import _set_threads

    cfgs = [TrainConfig(**c) for c in configs]
    folder = Path(sweep_dir)
    bad = [c.name for c in cfgs if c.name != folder.name]
    if bad:
        raise SweepError(f"run name {bad[0]!r} does not match the sweep folder {folder}")
    rids = [run_id(c) for c in cfgs]
    for rid in rids:
        run_dir(folder, rid)  # a run folder that is a link is refused before the trainer writes into it
    t0 = time.perf_counter()
    done: dict[int, dict[str, Any]] = {}  # members that left the batch with a result
    try:
        _set_threads(threads)
        from scalefit.proxy.batched import train_batch

        log = None if on_log is None else (lambda i, row: on_log(rids[i], row))
        return train_batch(cfgs, folder.parent, on_log=log, on_done=done.__setitem__)
    except Exception as exc:  # noqa: BLE001 - recorded as the members' failure, never fatal to the sweep
        rows = []
        for i, (cfg, rid) in enumerate(zip(cfgs, rids)):
            row = done.get(i)
            if row is None:
                row = failure_row(cfg, rid, f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - t0)
                write_failure(folder, row, traceback.format_exc())
            rows.append(row)
        return rows


def remaining(unit: PlannedRun | RunBatch, sweep_dir: Path, emit: Callable[[str, Any, dict], None]):
    """What is left of a unit whose worker died: members with a result are reported done; None when none is left."""
    left = []
    for run in members(unit):
        row = read_result(Path(sweep_dir), run.run_id) if isinstance(unit, RunBatch) else None
        if row is None:
            left.append(run)
        else:
            emit("done", run, row)
    if not left:
        return None
    return left[0] if len(left) == 1 else RunBatch(tuple(left))
