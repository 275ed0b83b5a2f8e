"""One run on several devices: ``torch.distributed`` process groups, launched here or by the environment.

A run with ``devices = N`` trains in N processes, one per device (a GPU, or a CPU process with the gloo backend).
Who starts them:

- ``launch_local`` (``scalefit train --devices N``, local sweeps): spawns N workers on this machine with the
  rendezvous on a free loopback port, as ``torchrun --standalone`` does, and waits for them; rank 0's curve rows
  reach ``on_log`` through a queue. The workers die with the launching process (``PR_SET_PDEATHSIG``), and when
  one worker fails the others are stopped and its error is raised here in one line (the same error class).
- ``torchrun`` or Slurm (one task per device): the environment already names the rank and world
  (``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT``, exported from Slurm's variables by submitit's
  ``TorchDistributedEnvironment``); ``from_env`` reads it.

``Dist`` is the group as the trainer sees it: rank, world size, and the few collectives it needs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as tdist

from scalefit import errors
from scalefit.errors import ConfigError, TrainingError
from scalefit.proxy.checkpoint import STOP_SIGNALS, stop_on

__all__ = ["Dist", "check_devices", "from_env", "group", "launch_local"]

PR_SET_PDEATHSIG = 1  # linux/prctl.h
POLL_S = 0.2  # how often the launcher forwards rank 0's curve rows


@dataclass(frozen=True)
class Dist:
    """This process's place in the run's process group."""

    rank: int  # global rank (0 writes the run's files)
    world: int  # processes in the run (= cfg.devices)
    local_rank: int  # rank on this node: the CUDA device index

    @property
    def main(self) -> bool:
        return self.rank == 0

    def sum_(self, tensor: torch.Tensor) -> torch.Tensor:
        """All-reduce ``tensor`` in place (sum over ranks); returns it."""
        tdist.all_reduce(tensor, op=tdist.ReduceOp.SUM)
        return tensor

    def any_of(self, flags: list[bool], device: torch.device) -> list[bool]:
        """Each flag true on every rank when it is true on any rank (all ranks call it at the same step)."""
        t = torch.tensor([1.0 if f else 0.0 for f in flags], device=device)
        tdist.all_reduce(t, op=tdist.ReduceOp.MAX)
        return [bool(v > 0) for v in t.tolist()]

    def barrier(self) -> None:
        tdist.barrier()


def from_env(env: dict[str, str] | None = None) -> Dist | None:
    """The process group the environment describes (torchrun, Slurm via submitit), None for a lone process."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return None
        return Dist(int(env["RANK"]), world, int(env.get("LOCAL_RANK", env["RANK"])))
    except (KeyError, ValueError):
        raise TrainingError("WORLD_SIZE > 1 but RANK/LOCAL_RANK are missing or not integers: launch several "
                            "devices with scalefit train --devices N, torchrun or one Slurm task per device") from None


def check_devices(devices: int, device: torch.device, local_world: int | None = None) -> None:
    """Refuse more devices on this node than it has: GPUs on CUDA, cores on CPU (one process per device)."""
    per_node = devices if local_world is None else local_world
    if device.type == "cuda":
        have, what = torch.cuda.device_count(), "CUDA GPUs"
    else:
        have, what = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, "cores"
    if per_node > have:
        raise ConfigError(f"devices {per_node} is more than this node has ({have} {what}); use --devices {have} or "
                          "fewer, or several nodes on Slurm")


@contextlib.contextmanager
def group(dist: Dist | None, device: torch.device) -> Iterator[Dist | None]:
    """Join the process group for the run (nccl on CUDA, gloo on CPU) and leave it afterwards."""
    if dist is None:
        yield None
        return
    if device.type == "cuda":
        torch.cuda.set_device(dist.local_rank)
    tdist.init_process_group("nccl" if device.type == "cuda" else "gloo", rank=dist.rank, world_size=dist.world)
    try:
        yield dist
        tdist.barrier()  # leave together: rank 0 hosts the rendezvous store the others still use while tearing down
    finally:
        tdist.destroy_process_group()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """Linux: the kernel kills this worker when the launching process dies (kill -9 included)."""
    import ctypes
    import sys

    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)


def _worker(rank: int, world: int, port: int, fn: Callable, args: tuple, rows: Any) -> None:
    _die_with_parent()
    stop_on()  # the launcher forwards its stop signals here
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    fn(*args, on_log=rows.put if rank == 0 and rows is not None else None)
    if rows is not None:  # the rows reach the launcher before this process goes
        rows.close()
        rows.join_thread()
    os._exit(0)  # done: skip interpreter teardown, where gloo's threads can abort a finished worker (SIGABRT)


def launch_local(fn: Callable, args: tuple, world: int, on_log: Callable[[dict], None] | None = None) -> None:
    """Run ``fn(*args, on_log=...)`` in ``world`` spawned processes on this machine (ranks 0..world-1).

    Rank 0's ``on_log`` rows are forwarded to ``on_log`` here. A worker's exception is re-raised here as one line,
    of its scalefit error class when it raised one (TrainingError otherwise).
    """
    import queue

    import torch.multiprocessing as mp

    ctx = mp.get_context("spawn")
    rows = None if on_log is None else ctx.Queue()
    procs = mp.start_processes(_worker, args=(world, _free_port(), fn, args, rows), nprocs=world, join=False,
                               start_method="spawn")  # fmt: skip

    def forward() -> None:
        while rows is not None:
            try:
                on_log(rows.get_nowait())
            except queue.Empty:
                return

    def relay(signum: int, frame: Any) -> None:
        for p in procs.processes:
            if p.is_alive() and p.pid is not None:
                os.kill(p.pid, signum)

    previous = {}
    with contextlib.suppress(ValueError):  # not the main thread: no relay
        previous = {s: signal.signal(s, relay) for s in STOP_SIGNALS}
    try:
        while not procs.join(timeout=POLL_S):
            forward()
        forward()
    except mp.ProcessRaisedException as exc:
        raise _worker_error(str(exc)) from None
    except mp.ProcessExitedException as exc:
        raise TrainingError(f"a device process of the run died ({exc}); run it again to resume from its last "
                            "checkpoint") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        for p in procs.processes:
            if p.is_alive():
                p.kill()
            p.join()


def _worker_error(trace: str) -> Exception:
    """The last line of a worker's traceback as an exception: its scalefit error class, else TrainingError."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    last = lines[-1] if lines else "a device process failed"
    name, sep, message = last.partition(": ")
    cls = getattr(errors, name.rsplit(".", 1)[-1], None) if sep and name.startswith("scalefit.errors.") else None
    if isinstance(cls, type) and issubclass(cls, errors.ScalefitError):
        return cls(message)
    return TrainingError(f"a device process failed: {last}")
