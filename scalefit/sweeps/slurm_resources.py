"""Resources per Slurm task that fit the partition, and pending reasons that can never resolve.

``resolve_resources(partition, ...)`` takes what the user asked for (None: not set) and returns what each task
of the array requests:

- GPUs: 1 when the partition's nodes have GPUs (``gres``), else 0;
- CPUs: 8, or fewer when the nodes have fewer (on GPU nodes, the node's CPUs shared out over its GPUs);
- time: 60 minutes, or the partition's limit when that is shorter;
- memory: the node's memory shared out over the tasks that fit on it (None where the cluster configures no
  memory: its default applies).

An explicit request that no node of the partition can ever satisfy is a one-line SweepError naming the flag
(``--cpus-per-task 8 but partition debug has nodes with 2 CPUs``), before anything is submitted.
``never_runs(reason, ...)`` says why a pending reason can never resolve (None while it may).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scalefit.errors import SweepError
from scalefit.sweeps.slurm_cluster import Node, Partition

__all__ = ["DEFAULT_CPUS", "DEFAULT_TIME_MIN", "SlurmResources", "never_runs", "resolve_resources"]

DEFAULT_CPUS = 8  # CPUs per task when the nodes have as many
DEFAULT_TIME_MIN = 60  # minutes per task when the partition allows as many
# Pending reasons that no amount of waiting resolves, with what they mean for the user.
NEVER = {
    "PartitionConfig": "the request exceeds what the partition's nodes or limits allow",
    "PartitionTimeLimit": "--time exceeds the partition's time limit",
    "PartitionNodeLimit": "the request exceeds the partition's node limits",
    "BadConstraints": "the constraints (--slurm-opt constraint=...) match no node",
    "InvalidAccount": "--account is not an account of this cluster",
    "InvalidQOS": "the QOS is not valid for this account or partition",
    "AccountNotAllowed": "--account may not use this partition",
    "QOSNotAllowed": "the QOS may not use this partition",
    "DependencyNeverSatisfied": "a dependency failed",
}
PER_JOB_LIMIT = re.compile(r"^(QOS|Assoc)\w*Max\w*PerJob")  # a per-job limit of the QOS or association


@dataclass(frozen=True)
class SlurmResources:
    """What each task of the array asks Slurm for."""

    partition: str | None  # partition (None: the cluster's default, submitit's local executor)
    time_min: int  # time limit per task, minutes
    gpus_per_task: int  # GPUs per task
    cpus_per_task: int  # CPUs per task
    mem_gb: float | None  # memory per task, GB (None: the cluster's default)

    def describe(self) -> str:
        mem = "default memory" if self.mem_gb is None else f"{self.mem_gb:.1f} GB"
        where = f"partition {self.partition}: " if self.partition else ""
        cpus, gpus = _count(self.cpus_per_task, "CPU"), _count(self.gpus_per_task, "GPU")
        return f"{where}{cpus}, {gpus}, {mem}, {self.time_min} min per run"


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' * (n != 1)}"


def _check_positive(time_min, gpus, cpus, mem_gb) -> None:
    for flag, value, least in (("--time", time_min, 1), ("--gpus-per-task", gpus, 0),
                               ("--cpus-per-task", cpus, 1)):  # fmt: skip
        if value is not None and value < least:
            raise SweepError(f"{flag} {value}: must be at least {least}")
    if mem_gb is not None and not mem_gb > 0:
        raise SweepError(f"--mem-gb {mem_gb}: must be more than 0")


def _check_each(part: Partition, time_min, gpus, cpus, mem_gb) -> None:
    """Each explicit request against the partition's largest node and its time limit."""
    p = part.name
    if gpus is not None and gpus > part.gpus:
        has = "no GPUs (gres)" if part.gpus == 0 else f"nodes with at most {part.gpus} GPUs"
        fix = "leave --gpus-per-task out" if part.gpus == 0 else f"use --gpus-per-task {part.gpus} or less"
        raise SweepError(f"--gpus-per-task {gpus} but partition {p} has {has}; {fix}, or pick another --partition")
    if cpus is not None and cpus > part.cpus:
        raise SweepError(f"--cpus-per-task {cpus} but partition {p} has nodes with {part.cpus} CPUs; use "
                         f"--cpus-per-task {part.cpus} or less, or leave it out")  # fmt: skip
    if time_min is not None and part.max_time_min is not None and time_min > part.max_time_min:
        raise SweepError(f"--time {time_min} but partition {p} allows at most {part.max_time_min} min; use "
                         f"--time {part.max_time_min} or less, or leave it out")  # fmt: skip
    if mem_gb is not None and part.mem_mb > 1 and mem_gb * 1024 > part.mem_mb:
        raise SweepError(f"--mem-gb {mem_gb:g} but partition {p} has nodes with {part.mem_mb / 1024:.1f} GB; use "
                         "less, or leave it out")  # fmt: skip


def _cpu_share(node: Node, gpus: int) -> int:
    """The CPUs that go with ``gpus`` of the node's GPUs (all its CPUs on a CPU task)."""
    if gpus == 0 or node.gpus == 0:
        return node.cpus
    return max(1, node.cpus * gpus // node.gpus)


def _tasks_per_node(node: Node, gpus: int, cpus: int) -> int:
    fit = node.cpus // cpus
    if gpus:
        fit = min(fit, node.gpus // gpus)
    return max(1, fit)


def _fits(node: Node, gpus: int, cpus: int, mem_gb: float | None) -> bool:
    mem_ok = mem_gb is None or node.mem_mb <= 1 or mem_gb * 1024 <= node.mem_mb
    return node.gpus >= gpus and node.cpus >= cpus and mem_ok


def resolve_resources(part: Partition, *, time_min: int | None, gpus_per_task: int | None,
                      cpus_per_task: int | None, mem_gb: float | None) -> SlurmResources:  # fmt: skip
    """The request of each task: explicit values checked against ``part``, the others derived (module doc)."""
    _check_positive(time_min, gpus_per_task, cpus_per_task, mem_gb)
    _check_each(part, time_min, gpus_per_task, cpus_per_task, mem_gb)
    gpus = gpus_per_task if gpus_per_task is not None else (1 if part.gpus else 0)
    with_gpus = [n for n in part.nodes if n.gpus >= gpus]
    cpus = cpus_per_task or min(DEFAULT_CPUS, max(_cpu_share(n, gpus) for n in with_gpus))
    fitting = [n for n in with_gpus if _fits(n, gpus, cpus, mem_gb)]
    if not fitting:
        mem = "" if mem_gb is None else f" and {mem_gb:g} GB"
        asked = f"{_count(cpus, 'CPU')}, {_count(gpus, 'GPU')}{mem}"
        raise SweepError(f"no node of partition {part.name} has {asked} together; lower --cpus-per-task, "
                         "--gpus-per-task or --mem-gb")  # fmt: skip
    if mem_gb is None and part.mem_mb > 1:
        mem_gb = max(n.mem_mb // _tasks_per_node(n, gpus, cpus) for n in fitting) / 1024
    if time_min is None:
        time_min = DEFAULT_TIME_MIN if part.max_time_min is None else min(DEFAULT_TIME_MIN, part.max_time_min)
    return SlurmResources(part.name, time_min, gpus, cpus, mem_gb)


def never_runs(reason: str, part: Partition | None) -> str | None:
    """Why a task pending with ``reason`` can never start (None while it may). ``part``: the partition now."""
    if reason in NEVER:
        return NEVER[reason]
    if PER_JOB_LIMIT.match(reason):
        return "the request exceeds a per-job limit of the QOS or account"
    if reason.startswith("ReqNodeNotAvail") or reason.startswith("Nodes_required_for_job"):
        if part is not None and not any(n.usable for n in part.nodes):
            states = ", ".join(f"{n.name} {n.state}" for n in part.nodes[:4])
            return f"no node of partition {part.name} is up ({states})"
    return None
