"""The Slurm executor: one ``submitit`` job array per sweep call, one run per task.

Resources come from the partition when the user does not set them (``sweeps.slurm_resources``); a request
that can never fit is refused before submission, and sbatch's own refusals are one-line SweepErrors. After
submission the executor follows the tasks itself with ``squeue`` (and ``scontrol``/``sacct`` for how a task
ended), so it needs no accounting and submitit's "Bypassing sacct error" warnings are filtered out:

- a task pending for a reason that never resolves (``PartitionConfig``, ``InvalidAccount``, ...) cancels the
  array and raises a one-line SweepError, seconds after submission;
- a task that writes its result is a finished run (``done``);
- a run with ``devices = N`` is one task per device (``tasks_per_node``; GPUs of one node first, then several
  nodes), joined with ``torch.distributed`` from Slurm's environment (submitit's ``TorchDistributedEnvironment``);
  runs with different device counts go in separate arrays;
- Slurm signals each task ``signal_s`` seconds before its time limit (``--signal=USR2@...``): the run writes a
  checkpoint after its current step and the task requeues itself (``scontrol requeue``); when it runs again it
  resumes from the checkpoint (``proxy.checkpoint``), so a run longer than the time limit finishes in pieces;
- a task that hits its time limit or runs out of memory is recorded as ``failed`` (re-run with more, and
  ``--retry-failed``); one cancelled, preempted or lost with its node leaves its run unfinished (``lost``
  event): the next call of the same sweep submits it again. A requeued task simply runs again;
- Ctrl-C cancels the arrays (``scancel``) and re-raises, the KeyboardInterrupt carrying ``cancelled_jobs``.

Runs whose tasks are still queued from an earlier call (the sweep process was killed) are waited for, not
submitted twice (``sweeps.slurm_jobs``). ``cluster="local"`` runs the same submission through submitit's local
executor (tests, CI without Slurm).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalefit._io import write_text_atomic
from scalefit.errors import SweepError
from scalefit.sweeps import slurm_cluster as cluster
from scalefit.sweeps.slurm_jobs import live_tasks, read_jobs, record_jobs
from scalefit.sweeps.slurm_resources import (
    DEFAULT_CPUS,
    DEFAULT_TIME_MIN,
    SlurmResources,
    never_runs,
    resolve_resources,
)
from scalefit.sweeps.store import failure_row, read_result, run_dir, write_failure

__all__ = ["SlurmExecutor", "slurm_task"]

START_WINDOW_S = 30.0  # after a submission, poll every START_POLL_S for this long (a request that never runs)
START_POLL_S = 1.0
GRACE_S = 15.0  # how long a task that left the queue may take to show its result (shared filesystems)
ALIVE = {"PENDING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "CONFIGURING", "COMPLETING",
         "SUSPENDED", "RESIZING", "SIGNALING", "STAGE_OUT"}  # fmt: skip
MAYBE_DONE = {"COMPLETED", "FAILED", "UNKNOWN"}  # ended: its result may still be on its way
FAILED_BY = {  # ended by Slurm for the run's own sake: recorded as failed
    "TIMEOUT": "reached its time limit ({time} min); re-run with a larger --time and --retry-failed",
    "OUT_OF_MEMORY": "ran out of memory ({mem}); re-run with a larger --mem-gb and --retry-failed",
}


TIMED_OUT = "reached its time limit (--time); re-run with a larger --time and --retry-failed"
TASK_MARK = "slurm_task"  # in a run folder: the Slurm task that finished the run
STOPPED_EXIT = 75  # exit status of a task that checkpointed and requeued itself (EX_TEMPFAIL)
SIGNAL_S = 90  # seconds before the time limit that Slurm signals a task to checkpoint (submitit's default)


def slurm_task(config: dict[str, Any], sweep_dir: str, threads: int, rid: str) -> dict[str, Any]:
    """One run in one Slurm task (or one of its ``devices`` tasks): ``execute_run``, unless this very task finished
    it before being requeued.

    Slurm may requeue a task (``scontrol requeue``, preemption) after it wrote its result, during the grace
    time it gets before the kill: the task then runs again later, and returns that result instead of training
    the run a second time. On Slurm's signal before the time limit the run checkpoints and stops; rank 0 requeues
    the task and every rank exits without a result (the requeued task resumes the run).
    """
    env = os.environ
    task = (f"{env['SLURM_ARRAY_JOB_ID']}_{env['SLURM_ARRAY_TASK_ID']}" if env.get("SLURM_ARRAY_TASK_ID")
            else env.get("SLURM_JOB_ID", ""))  # fmt: skip
    mark = run_dir(Path(sweep_dir), rid) / TASK_MARK  # a linked run folder is refused, never followed
    if task and mark.is_file() and mark.read_text().strip() == task:
        row = read_result(Path(sweep_dir), rid)
        if row is not None:
            return row
    from scalefit.errors import RunInterrupted
    from scalefit.proxy.checkpoint import stop_on
    from scalefit.sweeps.executors import execute_run

    rank = _join_ranks()
    stop_on()  # replaces submitit's USR2 handler: checkpoint after the current step, then requeue below
    try:
        row = execute_run(config, sweep_dir, threads)
    except RunInterrupted:
        if rank == 0 and task and env.get("SLURM_JOB_ID"):
            cluster.requeue(task)
        raise SystemExit(STOPPED_EXIT) from None  # no result: submitit writes none, the requeued task resumes
    if row.get("status") == "failed" and "timed-out" in str(row.get("message")):  # submitit stopped it in time
        row = {**row, "message": f"slurm task {task} {TIMED_OUT}"}
        write_failure(Path(sweep_dir), row)
    if task and rank == 0:
        write_text_atomic(mark, task + "\n", within=sweep_dir)
    return row


def _join_ranks() -> int:
    """A task of a several-task job exports the torch.distributed rendezvous from Slurm's environment; its rank."""
    if int(os.environ.get("SLURM_NTASKS", os.environ.get("SUBMITIT_LOCAL_NTASKS", "1")) or 1) <= 1:
        return 0
    from submitit.helpers import TorchDistributedEnvironment

    return TorchDistributedEnvironment().export(set_cuda_visible_devices=False).rank


class _NoSacctNoise(logging.Filter):
    """Drops submitit's "Bypassing sacct error ... status may be inaccurate" (a cluster without accounting)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Bypassing sacct error" not in record.getMessage()


@contextlib.contextmanager
def _quiet_submitit():
    log, noise = logging.getLogger("submitit"), _NoSacctNoise()
    log.addFilter(noise)
    try:
        yield
    finally:
        log.removeFilter(noise)


def _trace_line(exc: BaseException) -> str:
    """The last line of the task's traceback in a submitit error (its message frames it with dashes)."""
    parts = str(exc).split("-" * 22)
    text = parts[1] if len(parts) > 2 else str(exc)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@dataclass
class SlurmExecutor:
    """submitit job arrays on Slurm (or submitit's local executor with ``cluster="local"``).

    Fields left None are derived from the partition (``sweeps.slurm_resources``).
    """

    partition: str | None = None  # Slurm partition (None: the cluster's default)
    time_min: int | None = None  # time limit per task, minutes (None: 60, or the partition's limit if shorter)
    gpus_per_task: int | None = None  # GPUs per task (None: 1 on a partition with GPUs, else 0)
    cpus_per_task: int | None = None  # CPU cores per task (None: 8, or fewer where the nodes have fewer)
    mem_gb: float | None = None  # memory per task, GB (None: the node's memory over the tasks that fit on it)
    array_parallelism: int = 64  # tasks of the array running at once
    account: str | None = None  # Slurm account
    setup: list[str] = field(default_factory=list)  # shell lines run before each task (module load, venv)
    extra: dict[str, Any] = field(default_factory=dict)  # more sbatch options (slurm_additional_parameters)
    cluster: str | None = None  # None: Slurm; "local": submitit's local executor (tests, CI)
    poll_s: float = 5.0  # seconds between checks of the queue
    threads: int = 0  # torch threads per task (0: cpus_per_task)
    signal_s: int = SIGNAL_S  # seconds before the time limit that Slurm signals a task to checkpoint and requeue

    def resources(self) -> SlurmResources:
        """What each task asks for: the explicit fields, checked against the partition, and derived ones."""
        if self.cluster == "local":
            from scalefit.sweeps.executors import cpu_count, gpu_count

            gpus = self.gpus_per_task if self.gpus_per_task is not None else min(1, gpu_count())
            return SlurmResources(None, self.time_min or DEFAULT_TIME_MIN, gpus,
                                  self.cpus_per_task or min(DEFAULT_CPUS, cpu_count()), self.mem_gb)  # fmt: skip
        return resolve_resources(cluster.partition_info(self.partition), time_min=self.time_min,
                                 gpus_per_task=self.gpus_per_task, cpus_per_task=self.cpus_per_task,
                                 mem_gb=self.mem_gb)  # fmt: skip

    def executor(self, folder: Path, res: SlurmResources | None = None, devices: int = 1):
        """A submitit executor for ``folder`` asking for ``res`` (default: ``self.resources()``) per device, and
        ``devices`` tasks per run."""
        from scalefit._io import check_no_links

        check_no_links(folder, Path(folder).parent)  # a linked submitit folder would put pickles and logs outside
        try:
            import submitit
        except ImportError:  # pragma: no cover
            raise SweepError("--executor slurm needs submitit: pip install submitit (or scalefit[train])") from None
        res = res or self.resources()
        try:
            ex = submitit.AutoExecutor(folder=folder, cluster=self.cluster or "slurm")
        except RuntimeError as exc:  # no srun/sbatch here
            raise SweepError(f"cannot submit to Slurm: {exc}; use --executor local on this machine") from None
        nodes, per_node = self.layout(devices, res)
        params: dict[str, Any] = {
            "timeout_min": res.time_min, "gpus_per_node": res.gpus_per_task * per_node,
            "cpus_per_task": res.cpus_per_task, "tasks_per_node": per_node, "nodes": nodes,
            "name": f"scalefit-{folder.parent.name}", "slurm_array_parallelism": self.array_parallelism,
        }  # fmt: skip
        if self.cluster != "local":
            params["slurm_signal_delay_s"] = self.signal_s
        optional = {"mem_gb": res.mem_gb, "slurm_partition": res.partition or self.partition,
                    "slurm_account": self.account, "slurm_setup": list(self.setup) or None,
                    "slurm_additional_parameters": dict(self.extra) or None}  # fmt: skip
        params.update({k: v for k, v in optional.items() if v is not None})
        ex.update_parameters(**params)
        return ex

    def layout(self, devices: int, res: SlurmResources) -> tuple[int, int]:
        """(nodes, tasks per node) of a run on ``devices`` devices: one node while its GPUs (CPUs) suffice."""
        if devices <= 1 or self.cluster == "local":
            return 1, max(devices, 1)
        node = max(cluster.partition_info(res.partition).nodes, key=lambda n: (n.gpus, n.cpus))
        fit = node.gpus // max(res.gpus_per_task, 1) if res.gpus_per_task else node.cpus // res.cpus_per_task
        if fit < 1:
            raise SweepError(f"devices {devices}: a node of the partition fits no task ({res.describe()})")
        if devices <= fit:
            return 1, devices
        if devices % fit:
            raise SweepError(f"devices {devices} is more than a node has ({fit} tasks of {res.describe()}) and not "
                             f"a multiple of it; use a multiple of {fit} to spread the run over whole nodes")
        return devices // fit, fit

    def execute(self, runs: list[Any], sweep_dir: Path, emit) -> None:
        if not runs:
            return
        from scalefit.sweeps.runner import branch_waves

        res = self.resources()
        with _quiet_submitit():
            for wave in branch_waves(runs):  # cooldown branches go after their trunks (an array starts at once)
                if self.cluster == "local":
                    self._execute_local(wave, sweep_dir, emit, res)
                else:
                    _SlurmArray(self, res, sweep_dir, emit).run(wave)

    def submit(self, runs: list[Any], sweep_dir: Path, res: SlurmResources) -> list[Any]:
        """Submit one array per device count (one task per run and device); the jobs in ``runs``' order. sbatch's
        refusal is a one-line SweepError."""
        from submitit.core.utils import FailedJobError, FailedSubmissionError

        threads = self.threads or res.cpus_per_task
        jobs: dict[int, Any] = {}
        for devices in sorted({r.config.devices for r in runs}):
            part = [i for i, r in enumerate(runs) if r.config.devices == devices]
            ex = self.executor(sweep_dir / "submitit", res, devices)
            configs, ids, n = [runs[i].config.to_dict() for i in part], [runs[i].run_id for i in part], len(part)
            try:
                with contextlib.redirect_stderr(io.StringIO()):  # submitit prints sbatch's stderr: we say it once
                    jobs.update(zip(part, ex.map_array(slurm_task, configs, [str(sweep_dir)] * n, [threads] * n, ids)))
            except (FailedJobError, FailedSubmissionError, OSError) as exc:
                raise SweepError(f"sbatch refused the sweep's job array: {cluster.first_line(str(exc))} "
                                 f"(asked for {res.describe()})") from None  # fmt: skip
        return [jobs[i] for i in range(len(runs))]

    def _execute_local(self, runs, sweep_dir, emit, res) -> None:
        jobs = self.submit(runs, sweep_dir, res)
        waiting = dict(zip(jobs, runs))
        for job, run in waiting.items():
            emit("start", run, {"job": job.job_id})
        try:
            while waiting:
                for job in [j for j in waiting if j.done()]:
                    run = waiting.pop(job)
                    emit("done", run, _result(job, run, sweep_dir))
                if waiting:
                    time.sleep(self.poll_s)
        except KeyboardInterrupt as exc:
            for job in waiting:
                job.cancel(check=False)
            exc.cancelled_jobs = tuple(j.job_id for j in waiting)
            raise


def _last_line(path: Path) -> str:
    """The last non-empty line of a task's log (what went wrong before the run could start), or a placeholder."""
    try:
        with open(path, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 4096))
            lines = [line.strip() for line in f.read().decode("utf-8", "replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1] if lines else "empty log"


def _result(job, run, sweep_dir: Path) -> dict[str, Any]:
    """The run's result row from its finished task; an error pickled by the task becomes a failed row."""
    try:
        return job.results()[0]  # task 0's (rank 0) for a run on several devices
    except Exception as exc:  # noqa: BLE001 - the task itself raised: recorded as the run's failure
        line = _trace_line(exc)
        line = TIMED_OUT if "timed-out" in line else f"failed: {line}"  # submitit's answer to the time limit
        row = failure_row(run.config, run.run_id, f"slurm task {job.job_id} {line}")
        write_failure(sweep_dir, row, str(exc))
        return row


class _SlurmArray:
    """Submits the runs (or adopts their tasks still queued) and follows the tasks until each has ended."""

    def __init__(self, ex: SlurmExecutor, res: SlurmResources, sweep_dir: Path, emit) -> None:
        self.ex, self.res, self.sweep_dir, self.emit = ex, res, sweep_dir, emit
        self.waiting: dict[str, tuple[Any, Any]] = {}  # task id -> (submitit job, run)
        self.gone: dict[str, float] = {}  # task id -> when it was first seen out of the queue without a result
        self.t0 = time.monotonic()

    def run(self, runs: list[Any]) -> None:
        try:
            self._start(runs)
            while self.waiting:
                self._poll()
                if self.waiting:
                    soon = time.monotonic() - self.t0 < START_WINDOW_S
                    time.sleep(min(self.ex.poll_s, START_POLL_S) if soon else self.ex.poll_s)
        except KeyboardInterrupt as exc:
            exc.cancelled_jobs = self.cancel()
            raise

    def job_ids(self) -> list[str]:
        return sorted({task.split("_")[0] for task in self.waiting})

    def cancel(self) -> tuple[str, ...]:
        ids = self.job_ids()
        cluster.cancel(ids)
        return tuple(ids)

    def _start(self, runs: list[Any]) -> None:
        import submitit

        old = read_jobs(self.sweep_dir)
        live = live_tasks(old) if old else {}
        if live is None:
            raise SweepError("cannot read the Slurm queue (squeue failed) to check for this sweep's queued runs; "
                             "try again")  # fmt: skip
        queued = {rid: task for task, (rid, _, _) in live.items()}
        folder = self.sweep_dir / "submitit"
        for run in runs:
            if run.run_id in queued:  # submitted by an earlier call that did not wait for it
                task = queued[run.run_id]
                self.waiting[task] = (submitit.SlurmJob(folder=folder, job_id=task), run)
                self.emit("start", run, {"job": task, "adopted": True})
        todo = [r for r in runs if r.run_id not in queued]
        new = None
        if todo:
            jobs = self.ex.submit(todo, self.sweep_dir, self.res)
            new = {}  # one entry per array (one per device count)
            for job, run in zip(jobs, todo):
                entry = new.setdefault(job.job_id.split("_")[0], {"job_id": job.job_id.split("_")[0], "tasks": {}})
                entry["tasks"][job.job_id] = run.run_id
                self.waiting[job.job_id] = (job, run)
            new = list(new.values())
        record_jobs(self.sweep_dir, old, set(live), new)
        for task in [t for entry in new or [] for t in entry["tasks"]]:
            self.emit("start", self.waiting[task][1], {"job": task})

    def _poll(self) -> None:
        states = cluster.queue_states(self.job_ids())
        if states is not None:
            self._check_pending(states)
        for task, (job, run) in list(self.waiting.items()):
            outcome = self._outcome(task, job, run, states)
            if outcome is not None:
                del self.waiting[task]
                kind, data = outcome
                self.emit(kind, run, data)

    def _check_pending(self, states: dict[str, tuple[str, str]]) -> None:
        """Cancel the arrays and raise when a task waits for something that will never come."""
        part = None
        for task, (state, reason) in states.items():
            if state != "PENDING" or task not in self.waiting:
                continue
            if part is None and reason.startswith(("ReqNodeNotAvail", "Nodes_required")):
                part = cluster.partition_info(self.res.partition)
            why = never_runs(reason, part)
            if why:
                ids = ", ".join(self.cancel())
                raise SweepError(f"Slurm will never start task {task}: it is pending with reason {reason} ({why}); "
                                 f"cancelled job {ids}. Asked for {self.res.describe()}")  # fmt: skip

    def _outcome(self, task: str, job, run, states) -> tuple[str, dict] | None:
        """("done", row), ("lost", info), or None while the task is queued, running or its end is unclear."""
        if job.paths.result_pickle.exists():
            return "done", _result(job, run, self.sweep_dir)
        if states is None or task in states:  # squeue failed this time, or the task is still in the queue
            self.gone.pop(task, None)
            return None
        first = self.gone.setdefault(task, time.monotonic())
        state = cluster.final_state(task)
        if state in ALIVE or (state in MAYBE_DONE and time.monotonic() - first < GRACE_S):
            return None
        if state in FAILED_BY or state in ("COMPLETED", "FAILED"):
            mem = "default memory" if self.res.mem_gb is None else f"{self.res.mem_gb:.1f} GB"
            how = FAILED_BY.get(state, "ended ({state}) without a result: {last} (log: {log})").format(
                time=self.res.time_min, mem=mem, state=state, last=_last_line(job.paths.stderr), log=job.paths.stderr
            )
            row = failure_row(run.config, run.run_id, f"slurm task {task} {how}")
            write_failure(self.sweep_dir, row)
            return "done", row
        msg = f"slurm task {task} ended {state} before the run finished; re-run the same command to run it again"
        return "lost", {"job": task, "state": state, "message": msg}
