"""What a Slurm cluster says about itself, through its command-line tools (no accounting needed).

- ``partition_info(name)``: the nodes of a partition (CPUs, memory, GPUs from ``gres``, state) and its time
  limit, from ``sinfo``; ``None`` names the cluster's default partition.
- ``queue_states(job_ids)``: the state and pending reason of every task of those jobs still in the queue
  (``squeue``); ``None`` when the controller did not answer (a transient failure, never "all gone").
- ``final_state(task_id)``: how a task that left the queue ended (``scontrol show job``, which keeps finished
  jobs for a few minutes; then ``sacct`` where the cluster has accounting, detected once), else ``UNKNOWN``.
- ``requeue(task_id)``: ``scontrol requeue`` (a task requeueing itself: SIGTERM ignored for the call).
- ``cancel(job_ids)``: ``scancel``.

Every failure to run a tool is a one-line SweepError naming the tool and its first line of output.
"""

from __future__ import annotations

import functools
import re
import signal
import subprocess
from dataclasses import dataclass

from scalefit.errors import SweepError

__all__ = [
    "Node", "Partition", "cancel", "final_state", "has_sacct", "parse_gpus", "parse_time_min",
    "partition_info", "queue_states", "requeue",
]  # fmt: skip

TOOL_TIMEOUT_S = 30  # the longest a Slurm command may take before it counts as not answering
USABLE = ("idle", "mix", "mixed", "alloc", "allocated", "comp", "completing", "plnd", "planned", "resv")


def _tool(args: list[str]) -> tuple[int, str, str]:
    """(return code, stdout, stderr) of a Slurm command; SweepError when it is missing or hangs."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=TOOL_TIMEOUT_S, check=False)
    except FileNotFoundError:
        raise SweepError(f"{args[0]} not found: this machine is not a Slurm login node; use --executor local") from None
    except subprocess.TimeoutExpired:
        raise SweepError(f"{args[0]} did not answer within {TOOL_TIMEOUT_S}s: is the Slurm controller up?") from None
    return done.returncode, done.stdout, done.stderr


def first_line(text: str) -> str:
    """The first non-empty line of a tool's message, without the ``tool: error:`` prefix."""
    for line in str(text).splitlines():
        if line.strip():
            return re.sub(r"^\w+: error: ", "", line.strip())
    return ""


@dataclass(frozen=True)
class Node:
    """One node of a partition, as ``sinfo`` reports it."""

    name: str  # node name
    cpus: int  # CPUs
    mem_mb: int  # memory, MB (1 or 0 where the cluster does not configure it)
    gpus: int  # GPUs (gres gpu)
    state: str  # idle, mix, alloc, down*, drain, ... as sinfo writes it (a trailing * : not responding)

    @property
    def usable(self) -> bool:
        """Up, responding and taking jobs (possibly busy or powered down until needed)."""
        return "*" not in self.state and self.state.rstrip("~#!%$@^-+") in USABLE


@dataclass(frozen=True)
class Partition:
    """A partition: its nodes and time limit."""

    name: str  # partition name
    nodes: tuple[Node, ...]  # its nodes
    max_time_min: int | None  # time limit per job, minutes (None: no limit)

    @property
    def cpus(self) -> int:
        return max(n.cpus for n in self.nodes)

    @property
    def gpus(self) -> int:
        return max(n.gpus for n in self.nodes)

    @property
    def mem_mb(self) -> int:
        return max(n.mem_mb for n in self.nodes)


def parse_gpus(gres: str) -> int:
    """GPUs in an sinfo ``gres`` field: ``gpu:8``, ``gpu:a100:4(S:0-1),gpu:v100:2`` -> 6, ``(null)`` -> 0."""
    total = 0
    for item in re.sub(r"\([^)]*\)", "", gres or "").split(","):
        parts = item.strip().split(":")
        if parts[0] == "gpu" and len(parts) >= 2 and parts[-1].isdigit():
            total += int(parts[-1])
        elif parts[0] == "gpu" and len(parts) >= 2:
            total += 1
    return total


def parse_time_min(text: str) -> int | None:
    """Minutes in a Slurm time (``infinite``, ``30:00``, ``1:00:00``, ``2-00:00:00``, ``2-12``); None: no limit."""
    text = (text or "").strip().lower()
    if text in ("", "infinite", "unlimited", "n/a", "none"):
        return None
    days, _, clock = text.rpartition("-")
    try:
        fields = [int(x) for x in clock.split(":")]
        d = int(days) if days else 0
    except ValueError:
        return None
    if days:  # D-HH, D-HH:MM, D-HH:MM:SS
        h, m = fields[0], (fields[1] if len(fields) > 1 else 0)
    elif len(fields) == 3:  # HH:MM:SS
        h, m = fields[0], fields[1]
    else:  # MM or MM:SS
        h, m = 0, fields[0]
    return d * 1440 + h * 60 + m


def _partitions() -> list[str]:
    rc, out, err = _tool(["sinfo", "-h", "-o", "%P"])
    if rc:
        raise SweepError(f"cannot reach Slurm: sinfo: {first_line(err) or f'exit code {rc}'}")
    return [p.strip() for p in out.split() if p.strip()]


def partition_info(name: str | None) -> Partition:
    """The partition ``name`` (None: the cluster's default one); SweepError naming the partitions it has."""
    names = _partitions()
    if name is None:
        default = [p.rstrip("*") for p in names if p.endswith("*")]
        if not default:
            listed = ", ".join(names) or "none"
            raise SweepError(f"the cluster has no default partition; give --partition (partitions: {listed})")
        name = default[0]
    rc, out, err = _tool(["sinfo", "-h", "-N", "-p", name, "-o", "%N|%c|%m|%G|%t|%l"])
    if rc:
        raise SweepError(f"cannot reach Slurm: sinfo: {first_line(err) or f'exit code {rc}'}")
    nodes, limit = {}, None
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) != 6:
            continue
        node, cpus, mem, gres, state, limit = fields
        nodes[node] = Node(node, _int(cpus), _int(mem), parse_gpus(gres), state.strip().lower())
    if not nodes:
        known = ", ".join(p.rstrip("*") for p in names) or "none"
        raise SweepError(f"partition {name!r} does not exist or has no nodes (partitions: {known}); fix --partition")
    return Partition(name, tuple(nodes.values()), parse_time_min(limit or ""))


def _int(text: str) -> int:
    match = re.match(r"\d+", text.strip())
    return int(match.group()) if match else 0


def queue_states(job_ids: list[str]) -> dict[str, tuple[str, str]] | None:
    """Task id (``123_4``, or ``123`` for a single job) -> (state, pending reason) of every task still queued.

    Tasks that left the queue are absent; None when squeue failed for another reason than unknown job ids.
    """
    if not job_ids:
        return {}
    rc, out, err = _tool(["squeue", "-h", "-r", "-j", ",".join(job_ids), "-o", "%i|%T|%r"])
    if rc:
        return {} if "invalid job id" in err.lower() else None  # every job id unknown: all have left
    states = {}
    for line in out.splitlines():
        fields = line.strip().split("|")
        if len(fields) == 3:
            states[fields[0]] = (fields[1], fields[2])
    return states


@functools.lru_cache(maxsize=1)
def has_sacct() -> bool:
    """Whether the cluster keeps accounting (``sacct`` answers); detected once per process."""
    try:
        rc, _, _ = _tool(["sacct", "-n", "-X", "-j", "1", "-o", "JobID"])
    except SweepError:
        return False
    return rc == 0


def final_state(task_id: str) -> str:
    """How a task that left the queue ended: COMPLETED, FAILED, CANCELLED, TIMEOUT, ... or UNKNOWN."""
    rc, out, _ = _tool(["scontrol", "-o", "show", "job", task_id])
    match = re.search(r"\bJobState=(\w+)", out) if rc == 0 else None
    if match:
        return match.group(1)
    if has_sacct():
        rc, out, _ = _tool(["sacct", "-n", "-X", "-P", "-j", task_id, "-o", "State"])
        words = out.split()
        if rc == 0 and words:
            return words[0]
    return "UNKNOWN"


def requeue(task_id: str) -> None:
    """``scontrol requeue`` a running task (it is stopped and queued again); SweepError when Slurm refuses.

    A task that requeues itself is sent SIGTERM, every process of it, as soon as Slurm has accepted: ``scontrol``
    itself may be killed before it exits (return code -15 under load), and the task would report a failure while it
    was in fact requeued. SIGTERM is ignored for the call, which ``scontrol`` inherits, so its answer comes back.
    """
    try:
        before = signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:  # not the main thread: cannot change handlers (not a task requeueing itself)
        before = None
    try:
        rc, _, err = _tool(["scontrol", "requeue", task_id])
    finally:
        if before is not None:
            signal.signal(signal.SIGTERM, before)
    if rc != 0:
        raise SweepError(f"scontrol requeue {task_id} failed: {first_line(err) or f'return code {rc}'}")


def cancel(job_ids: list[str]) -> None:
    """``scancel`` the jobs (best effort: a job that already ended is not an error)."""
    if job_ids:
        try:
            _tool(["scancel", *job_ids])
        except SweepError:
            pass
