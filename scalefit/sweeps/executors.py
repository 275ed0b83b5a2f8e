"""Executors: where the runs of a sweep execute. Existing engines only, no home-made scheduler.

- ``SerialExecutor``: one run after another in this process (debugging, tests).
- ``LocalExecutor``: a ``concurrent.futures`` process pool (spawned workers) on this machine. With GPUs,
  each worker is pinned to one GPU (``CUDA_VISIBLE_DEVICES``), ``runs_per_gpu`` workers per GPU; without,
  one worker per core (or ``workers``), each with ``cores / workers`` torch threads.
  Runs with ``devices > 1`` train first, one at a time, each on that many devices of the machine
  (``proxy.distributed`` launches their processes).
- ``SlurmExecutor`` (``sweeps/slurm.py``, importable from here): ``submitit`` job arrays with resources that
  fit the partition. Every task writes its run folder in the sweep folder, which must be on a filesystem the
  nodes share. ``cluster="local"`` runs the same code path through submitit's local executor (tests, CI).

Runs of one shape are packed into batches that train as one model (``sweeps.batching``; ``batch_runs``: at most
K per batch, 1 turns it off, None takes the default for the device and model size); local executors only.
Both call ``execute_run`` on each run (``batching.execute_batch`` on each batch) and report through
``emit(kind, run, data)``: ``start``, ``log`` (a curve row, local only), ``done`` (the result row). A run that
raises is recorded as ``failed`` with its message and never stops the sweep; a worker that dies (killed, out of
memory) has its runs retried once.
Local workers die with the sweep process however it dies (``_die_with_parent``), and an exception in the
sweep process (Ctrl-C, SIGTERM turned into one by the CLI) kills them at once rather than at the end of
their runs. Ctrl-C cancels a Slurm sweep's job arrays; tasks left queued by a sweep process that was killed are
waited for by the next call, not submitted twice.
"""

from __future__ import annotations

import os
import time
import traceback
import warnings
from collections import deque
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalefit._io import write_text_atomic
from scalefit.errors import SweepError
from scalefit.proxy.config import TrainConfig
from scalefit.sweeps.store import failure_row, run_dir, write_failure

__all__ = ["Emit", "LocalExecutor", "SerialExecutor", "cpu_count", "execute_run", "gpu_count"]

Emit = Callable[[str, Any, dict], None]
MAX_ATTEMPTS = 2  # tries of a run whose worker process dies under it


def cpu_count() -> int:
    """Cores this process may use (its CPU affinity where the OS reports it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - macOS, Windows
        return os.cpu_count() or 1


def gpu_count() -> int:
    """CUDA GPUs visible to this process (0 without torch or CUDA)."""
    try:
        import torch
    except ImportError:  # pragma: no cover
        return 0
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _set_threads(threads: int) -> None:
    if threads > 0:
        for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            os.environ[var] = str(threads)
        import torch

        torch.set_num_threads(threads)


def execute_run(
    config: dict[str, Any], sweep_dir: str, threads: int = 0, on_log: Callable[[dict], None] | None = None
) -> dict[str, Any]:
    """Train one run of a sweep into ``sweep_dir/<run_id>/``; returns its result row (failures included).

    ``config`` is a ``TrainConfig`` as a dict whose ``name`` is the sweep folder's name. Any exception from
    the trainer becomes a ``failed`` result (message, and traceback in error.txt); KeyboardInterrupt and
    kills leave no result, so the run is run again when the sweep resumes.
    """
    from scalefit.proxy.config import run_id

    cfg = TrainConfig(**config)
    folder = Path(sweep_dir)
    if cfg.name != folder.name:
        raise SweepError(f"run name {cfg.name!r} does not match the sweep folder {folder}")
    run_dir(folder, run_id(cfg))  # a run folder that is a link is refused before the trainer writes into it
    t0 = time.perf_counter()
    try:
        _set_threads(threads)
        from scalefit.proxy.train import train_run

        with warnings.catch_warnings(record=True) as caught:  # a worker's warnings go to the run folder, not raw
            warnings.simplefilter("always")                      # to the sweep's terminal
            result = train_run(cfg, folder.parent, on_log=on_log)
        if caught:
            lines = dict.fromkeys(f"{w.category.__name__}: {w.message}" for w in caught)
            write_text_atomic(folder / run_id(cfg) / "warnings.txt", "\n".join(lines) + "\n", within=folder)
        return result
    except Exception as exc:  # noqa: BLE001 - recorded as the run's failure, never fatal to the sweep
        row = failure_row(cfg, run_id(cfg), f"{type(exc).__name__}: {exc}", wall_s=time.perf_counter() - t0)
        write_failure(folder, row, traceback.format_exc())
        return row


# --------------------------------------------------------------------------- in this process


@dataclass
class SerialExecutor:
    """Runs one after another in this process (``--workers 0``): for debugging (pdb works) and tests."""

    threads: int = 0  # torch threads (0: leave torch's default)
    batch_runs: int | None = None  # runs per batched model (sweeps.batching); None: default for the device

    def execute(self, runs: list[Any], sweep_dir: Path, emit: Emit) -> None:
        from scalefit.sweeps.batching import RunBatch, execute_batch, members, pack

        device = "cuda" if any(r.config.device != "cpu" for r in runs) and gpu_count() else "cpu"
        for unit in pack(runs, self.batch_runs, device):
            group = {r.run_id: r for r in members(unit)}
            for run in group.values():
                emit("start", run, {})
            if isinstance(unit, RunBatch):
                on_log = lambda rid, row, group=group: emit("log", group[rid], row)  # noqa: E731
                rows = execute_batch([r.config.to_dict() for r in unit.runs], str(sweep_dir), self.threads, on_log)
            else:
                on_log = lambda row, run=unit: emit("log", run, row)  # noqa: E731
                rows = [execute_run(unit.config.to_dict(), str(sweep_dir), self.threads, on_log)]
            for run, row in zip(group.values(), rows):
                emit("done", run, row)


# --------------------------------------------------------------------------- local process pool

_WORKER: dict[str, Any] = {}
PARENT_POLL_S = 0.5  # how often a worker checks that the sweep that started it is alive
PR_SET_PDEATHSIG = 1  # linux/prctl.h


def _die_with_parent(parent_pid: int) -> None:
    """Make this worker exit when the sweep process ``parent_pid`` dies, however it dies.

    Linux: the kernel sends SIGKILL on the parent's death (prctl PR_SET_PDEATHSIG). Everywhere: a daemon
    thread compares ``os.getppid()`` with the parent's pid every PARENT_POLL_S seconds and exits when the
    worker has been re-parented. Ctrl-C is left to the parent, which stops the workers itself.
    """
    import signal
    import sys
    import threading

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # pragma: no cover - no prctl: the thread below still works
            pass

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(PARENT_POLL_S)
        os._exit(1)

    if os.getppid() != parent_pid:  # the parent died before the signal was armed
        os._exit(1)
    threading.Thread(target=watch, name="scalefit-parent-watch", daemon=True).start()


def _init_worker(parent_pid: int, slots: Any, logs: Any, threads: int) -> None:
    _die_with_parent(parent_pid)
    slot = slots.get()
    if slot is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(slot)
    _WORKER.update(logs=logs, threads=threads)
    _set_threads(threads)


def _pool_task(config: dict[str, Any], sweep_dir: str, rid: str) -> dict[str, Any]:
    logs = _WORKER.get("logs")

    def on_log(row: dict) -> None:
        if logs is not None:
            logs.put((rid, row))

    return execute_run(config, sweep_dir, _WORKER.get("threads", 0), on_log)


def _pool_batch(configs: list[dict[str, Any]], sweep_dir: str) -> list[dict[str, Any]]:
    from scalefit.sweeps.batching import execute_batch

    logs = _WORKER.get("logs")

    def on_log(rid: str, row: dict) -> None:
        if logs is not None:
            logs.put((rid, row))

    return execute_batch(configs, sweep_dir, _WORKER.get("threads", 0), on_log)


def _submit(pool: ProcessPoolExecutor, unit: Any, sweep_dir: Path) -> Any:
    """Submit a run (its result row) or a batch (its members' rows) to the pool."""
    from scalefit.sweeps.batching import RunBatch

    if isinstance(unit, RunBatch):
        return pool.submit(_pool_batch, [r.config.to_dict() for r in unit.runs], str(sweep_dir))
    return pool.submit(_pool_task, unit.config.to_dict(), str(sweep_dir), unit.run_id)


def _next_ready(pending: deque, running: dict) -> Any:
    """The first pending unit (run or batch) none of whose runs is a cooldown branch of a trunk still pending or
    running (taken out of ``pending``), or None."""
    from scalefit.sweeps.batching import members

    busy = {r.run_id for unit in [*pending, *running.values()] for r in members(unit)}
    for i, unit in enumerate(pending):
        if not any(r.trunk in busy for r in members(unit)):
            del pending[i]
            return unit
    return None


@dataclass
class LocalExecutor:
    """Process pool on this machine: GPUs when there are any (and ``device`` allows), else CPU cores."""

    workers: int | None = None  # processes; default: GPUs x runs_per_gpu, or one per core
    device: str = "auto"  # "auto", "cpu" or "cuda"
    runs_per_gpu: int = 1  # concurrent runs sharing one GPU
    threads: int | None = None  # torch threads per worker; default: cores / workers (at most 4 with GPUs)
    poll_s: float = 0.2  # how often the live loss is forwarded
    gpus: int = field(default=-1, repr=False)  # visible GPUs (-1: detect)
    batch_runs: int | None = None  # runs per batched model (sweeps.batching); None: default for the device

    def plan(self) -> tuple[list[str | None], int]:
        """Per-worker GPU slots (None = CPU) and torch threads per worker."""
        if self.device not in ("auto", "cpu", "cuda"):
            raise SweepError(f"unknown device {self.device!r}; use auto, cpu or cuda")
        if self.runs_per_gpu < 1 or (self.workers is not None and self.workers < 1):
            raise SweepError("--workers and --runs-per-gpu must be at least 1")
        n_gpus = 0 if self.device == "cpu" else (gpu_count() if self.gpus < 0 else self.gpus)
        if self.device == "cuda" and n_gpus == 0:
            raise SweepError("device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
        cores = cpu_count()
        if n_gpus:
            slots = [str(g) for _ in range(self.runs_per_gpu) for g in range(n_gpus)]  # round-robin over GPUs
            if self.workers is not None:
                slots = slots[: self.workers]
            threads = self.threads or max(1, min(4, cores // len(slots)))
        else:
            slots = [None] * (self.workers or cores)
            threads = self.threads or max(1, cores // len(slots))
        return slots, threads

    def execute(self, runs: list[Any], sweep_dir: Path, emit: Emit) -> None:
        import multiprocessing as mp

        from scalefit.sweeps.batching import pack

        slots, threads = self.plan()
        wide = [r for r in runs if r.config.devices > 1]  # runs on several devices: one at a time, all devices
        if wide:
            SerialExecutor(threads=0, batch_runs=1).execute(wide, sweep_dir, emit)
            runs = [r for r in runs if r.config.devices <= 1]
            if not runs:
                return
        ctx = mp.get_context("spawn")  # fresh interpreters: safe with torch and CUDA
        _quiet_resource_tracker()
        pending = deque(pack(runs, self.batch_runs, "cpu" if slots[0] is None else "cuda"))
        attempts: dict[str, int] = {}
        while pending:
            slot_q, log_q = ctx.Queue(), ctx.Queue()
            for s in slots:
                slot_q.put(s)
            pool = ProcessPoolExecutor(len(slots), mp_context=ctx, initializer=_init_worker,
                                       initargs=(os.getpid(), slot_q, log_q, threads))  # fmt: skip
            try:
                self._drive(pool, pending, attempts, sweep_dir, emit, log_q, len(slots))
            except BaseException:  # Ctrl-C, SIGTERM, an error: stop the runs in flight now, not at their end
                _kill_workers(pool)
                raise
            finally:
                pool.shutdown(wait=True, cancel_futures=True)
                _close_queues(slot_q, log_q)

    def _drive(self, pool, pending, attempts, sweep_dir, emit, log_q, width) -> None:
        """Keep ``width`` units (runs or batches) in flight until done; return early (to get a new pool) when a
        worker dies."""
        from scalefit.sweeps.batching import members

        running: dict[Any, Any] = {}
        while pending or running:
            while pending and len(running) < width:
                unit = _next_ready(pending, running)
                if unit is None:  # every pending unit waits for a trunk in flight
                    break
                try:
                    fut = _submit(pool, unit, sweep_dir)
                except BrokenProcessPool:  # a worker died while idle
                    pending.appendleft(unit)
                    return self._requeue(list(running.values()), pending, attempts, sweep_dir, emit)
                attempts[unit.run_id] = attempts.get(unit.run_id, 0) + 1
                running[fut] = unit
                for run in members(unit):
                    emit("start", run, {})
            done, _ = wait(list(running), timeout=self.poll_s, return_when=FIRST_COMPLETED)
            _drain(log_q, running, emit)
            broken = []
            for fut in done:
                unit = running.pop(fut)
                try:
                    rows = fut.result()
                except BrokenProcessPool:
                    broken.append(unit)
                    continue
                for run, row in zip(members(unit), rows if isinstance(rows, list) else [rows]):
                    emit("done", run, row)
            if broken:  # the pool is unusable: every run in flight is lost with it
                return self._requeue(broken + list(running.values()), pending, attempts, sweep_dir, emit)

    @staticmethod
    def _requeue(lost, pending, attempts, sweep_dir, emit) -> None:
        """Put units lost with a dead worker back in front of the queue, or fail them after MAX_ATTEMPTS; a batch's
        members that had finished before the worker died keep their result."""
        from scalefit.sweeps.batching import members, remaining

        for unit in reversed(lost):
            left = remaining(unit, sweep_dir, emit)
            if left is None:
                continue
            if attempts[unit.run_id] >= MAX_ATTEMPTS:
                msg = f"worker process died {MAX_ATTEMPTS} times while running it (killed, or out of memory)"
                for run in members(left):
                    row = failure_row(run.config, run.run_id, msg)
                    write_failure(sweep_dir, row)
                    emit("done", run, row)
            else:
                attempts[left.run_id] = attempts[unit.run_id]
                pending.appendleft(left)


def _quiet_resource_tracker() -> None:
    """A worker killed mid-run (SIGKILL, out of memory) cannot release the semaphores it holds; multiprocessing's
    resource tracker releases them when the sweep ends and says "There appear to be N leaked semaphore objects",
    which reads like a scalefit bug. The sweep already reports the killed run (it is retried, then recorded as
    failed), so the tracker, started with this interpreter's -W options, is told to clean up quietly."""
    import sys

    quiet = "ignore:resource_tracker:UserWarning"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)


def _close_queues(*queues: Any) -> None:
    """Close each pool's queues (and their feeder threads) with the pool: queues left open hold named semaphores
    that the resource tracker reports as "leaked" when the sweep stops, one warning per pool the sweep made."""
    for q in queues:
        q.close()
        q.join_thread()


def _kill_workers(pool: ProcessPoolExecutor) -> None:
    """SIGKILL the pool's worker processes and wait for them (a run killed mid-way leaves no result.json)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public API before Python 3.14
    for proc in procs:
        if proc.is_alive():
            proc.kill()
    for proc in procs:
        proc.join(timeout=10)


def _drain(log_q: Any, running: dict, emit: Emit) -> None:
    import queue

    from scalefit.sweeps.batching import members

    by_id = {run.run_id: run for unit in running.values() for run in members(unit)}
    while True:
        try:
            rid, row = log_q.get_nowait()
        except (queue.Empty, OSError, EOFError):
            return
        if rid in by_id:
            emit("log", by_id[rid], row)


# --------------------------------------------------------------------------- Slurm (sweeps/slurm.py)


def __getattr__(name: str) -> Any:
    """``SlurmExecutor`` lives in ``sweeps.slurm`` (which imports this module); importable from here too."""
    if name == "SlurmExecutor":
        from scalefit.sweeps.slurm import SlurmExecutor

        return SlurmExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
