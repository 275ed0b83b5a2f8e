"""The Slurm jobs of a sweep folder: which task runs which run, recorded at submission.

``DIR/slurm_jobs.json`` lists the job arrays submitted for the folder's runs that may still be in the queue,
each as its job id and ``{task id: run id}`` (``123_4``, or ``123`` for a one-run submission). The executor
writes it after each submission (dropping arrays none of whose tasks is queued any more) and reads it when a
sweep resumes, so that runs whose tasks are still queued or running (the sweep process was killed, the
terminal closed) are waited for rather than submitted twice. ``slurm_jobs(DIR)`` gives ``sweep status`` the
tasks of the folder still in the queue, with their state.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scalefit._io import write_json_atomic
from scalefit._schema import expect_fields, expect_str, list_of, mapping_of, read_json
from scalefit.errors import FitFileError, SweepError
from scalefit.sweeps.slurm_cluster import queue_states

__all__ = ["JOBS", "SlurmTask", "live_tasks", "read_jobs", "record_jobs", "slurm_jobs"]

JOBS = "slurm_jobs.json"


def _entry(value, where):
    return expect_fields(value, where, {"job_id": expect_str, "tasks": mapping_of(expect_str)})


@dataclass(frozen=True)
class SlurmTask:
    """One task of a sweep's job array still in the Slurm queue."""

    task_id: str  # Slurm's id of the task: 123_4 (array) or 123 (single job)
    run_id: str  # the run it executes
    state: str  # PENDING, RUNNING, COMPLETING, ...
    reason: str  # pending reason (Priority, Resources, ...; None when running)

    def to_dict(self) -> dict[str, str]:
        return {"task_id": self.task_id, "run_id": self.run_id, "state": self.state, "reason": self.reason}


def read_jobs(sweep_dir: Path) -> list[dict]:
    """The recorded job arrays (``[{"job_id", "tasks": {task id: run id}}]``); none when nothing was submitted."""
    path = Path(sweep_dir) / JOBS
    if not path.exists():
        return []
    try:
        return expect_fields(read_json(path, what="Slurm job record"), "", {"jobs": list_of(_entry)})["jobs"]
    except FitFileError as exc:
        problem = str(exc).removeprefix(f"{path}: ")
        raise SweepError(f"{path}: not a Slurm job record ({problem}); check `squeue` for the sweep's jobs and "
                         "delete the file") from None  # fmt: skip


def live_tasks(jobs: list[dict]) -> dict[str, tuple[str, str, str]] | None:
    """Task id -> (run id, state, reason) of the recorded tasks still in the queue (None: squeue failed)."""
    states = queue_states([j["job_id"] for j in jobs])
    if states is None:
        return None
    return {task: (rid, *states[task]) for j in jobs for task, rid in j["tasks"].items() if task in states}


def record_jobs(sweep_dir: Path, old: list[dict], live: set[str], new: dict | list[dict] | None = None) -> list[dict]:
    """Write the record: the ``old`` arrays that still have a task in ``live`` (task ids queued), then ``new`` (one
    array or several)."""
    new = [new] if isinstance(new, dict) else list(new or [])
    kept = [j for j in old if any(task in live for task in j["tasks"])] + new
    write_json_atomic(Path(sweep_dir) / JOBS, {"jobs": kept}, within=sweep_dir)
    return kept


def slurm_jobs(sweep_dir: str | Path) -> list[SlurmTask]:
    """The folder's runs whose Slurm tasks are still queued or running, in submission order.

    Empty when the sweep never went to Slurm or nothing of it is queued; SweepError when the queue cannot be
    read (no ``squeue`` here, the controller does not answer).
    """
    jobs = read_jobs(Path(sweep_dir))
    if not jobs:
        return []
    live = live_tasks(jobs)
    if live is None:
        raise SweepError("cannot read the Slurm queue (squeue failed); try again, or run `squeue --me`")
    return [SlurmTask(task, rid, state, reason) for task, (rid, state, reason) in live.items()]
