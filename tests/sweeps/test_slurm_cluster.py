"""Sweeps against a real Slurm scheduler (``scripts/local-slurm.sh`` starts one on this machine).

Marked ``slurm``: they run whenever ``sinfo`` answers and skip otherwise, except under ``CI=true``, where a
missing cluster fails them. The partition is ``$SCALEFIT_SLURM_PARTITION`` (default ``debug``); the sweep
folders live in pytest's tmp_path, which the single node shares with this process.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from scalefit.errors import SweepError  # noqa: E402
from scalefit.sweeps.runner import run_sweep  # noqa: E402
from scalefit.sweeps.slurm import SlurmExecutor  # noqa: E402
from scalefit.sweeps.slurm_cluster import partition_info  # noqa: E402
from scalefit.sweeps.slurm_jobs import read_jobs, slurm_jobs  # noqa: E402
from scalefit.sweeps.slurm_resources import SlurmResources  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402
from scalefit.sweeps.store import sweep_status  # noqa: E402

# the tests share the one local cluster, several take its whole node, and some time Slurm's own clock: under
# pytest-xdist they run on one worker (--dist loadgroup), never beside each other
pytestmark = [pytest.mark.slurm, pytest.mark.xdist_group("slurm-cluster")]
PARTITION = os.environ.get("SCALEFIT_SLURM_PARTITION", "debug")
TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 1024, "device": "cpu"}  # fmt: skip
LONG = 200_000  # tokens of a run that outlasts Slurm's kill grace (KillWait, 5 s locally) when cancelled as it starts


def _cluster_answers() -> bool:
    try:
        done = subprocess.run(["sinfo", "-h", "-p", PARTITION, "-o", "%t"], capture_output=True, text=True,
                              timeout=20)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and bool(done.stdout.strip())


@pytest.fixture(scope="module", autouse=True)
def cluster():
    if not _cluster_answers():
        why = f"no Slurm partition {PARTITION!r} answers (sinfo); start one with scripts/local-slurm.sh"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{why} (CI=true: the slurm tests must run, not skip)")
        pytest.skip(why)


def _spec(n: int, tokens: int = TINY["tokens"]):
    lrs = [1e-3 * (i + 1) for i in range(n)]
    return parse_spec({"name": "s", "fixed": {**TINY, "tokens": tokens}, "grid": {"shape": [[16, 1]], "lr": lrs}})


def _queued(job_id: str) -> str:
    return subprocess.run(["squeue", "-h", "-j", job_id], capture_output=True, text=True).stdout.strip()


def _wait_for(predicate, timeout: float = 60.0, step: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s")


class _Background(threading.Thread):
    """``run_sweep`` in a thread (the test meanwhile acts on the queue as a user or the scheduler would)."""

    def __init__(self, spec, out, ex) -> None:
        super().__init__(daemon=True)
        self.args, self.summary, self.error = (spec, out, ex), None, None
        self.start()

    def run(self) -> None:
        spec, out, ex = self.args
        try:
            self.summary = run_sweep(spec, out, executor=ex)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            self.error = exc

    def result(self, timeout: float = 240.0):
        self.join(timeout)
        assert not self.is_alive(), "the sweep did not end"
        if self.error is not None:
            raise self.error
        return self.summary


def _release(task: str) -> None:
    """Start a requeued task now (Slurm holds one about two minutes, reason BeginTime), once its previous run has
    left the node: started while that run's steps are still ending, it is refused ("Job credential revoked") and
    fails, as it did once here 0.7 s after the requeue."""
    _wait_for(lambda: not subprocess.run(["squeue", "-h", "-s", "-j", task], capture_output=True, text=True)
              .stdout.strip(), timeout=60, step=0.2)  # fmt: skip
    subprocess.run(["scontrol", "update", f"JobId={task}", "StartTime=now"], check=True, capture_output=True)


def _task_in(out: Path, state: str) -> str | None:
    return next((t.task_id for t in slurm_jobs(out) if t.state == state), None)


def test_four_run_sweep_with_only_the_partition(tmp_path):
    out = tmp_path / "four"
    summary = run_sweep(_spec(4), out, executor=SlurmExecutor(partition=PARTITION, poll_s=0.5))
    assert summary.counts == {"ok": 4} and len(set(summary.executed)) == 4 and summary.lost == {}
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 4 and runs["run_id"].is_unique and set(runs["status"]) == {"ok"}
    _wait_for(lambda: slurm_jobs(out) == [], timeout=20)  # the last task leaves the queue as it exits
    assert run_sweep(_spec(4), out, executor=SlurmExecutor(partition=PARTITION)).executed == []


def test_a_request_beyond_the_nodes_is_refused_before_submission(tmp_path):
    cpus = partition_info(PARTITION).cpus
    for ex, flag in ((SlurmExecutor(partition=PARTITION, cpus_per_task=64 * cpus), "--cpus-per-task"),
                     (SlurmExecutor(partition=PARTITION, gpus_per_task=99), "--gpus-per-task")):  # fmt: skip
        with pytest.raises(SweepError, match=f"^{flag} .* but partition {PARTITION} has "):
            run_sweep(_spec(2), tmp_path / "big", executor=ex)
    assert not (tmp_path / "big" / "slurm_jobs.json").exists()  # nothing was submitted


def test_a_request_that_never_starts_is_cancelled_within_seconds(tmp_path, monkeypatch):
    cpus = partition_info(PARTITION).cpus  # ask more CPUs than a node has, past the check before submission
    monkeypatch.setattr(SlurmExecutor, "resources", lambda self: SlurmResources(PARTITION, 10, 0, 4 * cpus, None))
    out, t0 = tmp_path / "never", time.monotonic()
    with pytest.raises(SweepError) as err:
        run_sweep(_spec(2), out, executor=SlurmExecutor(partition=PARTITION, poll_s=0.5))
    assert time.monotonic() - t0 < 30
    message = str(err.value)
    assert "\n" not in message and "never start" in message and "PartitionConfig" in message
    job = read_jobs(out)[0]["job_id"]
    _wait_for(lambda: not _queued(job), timeout=10)  # cancelled: nothing of it queued


def test_an_sbatch_refusal_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setattr(SlurmExecutor, "resources", lambda self: SlurmResources(PARTITION, 10, 1, 1, None))
    with pytest.raises(SweepError, match="^sbatch refused the sweep's job array: .*gres") as err:
        run_sweep(_spec(2), tmp_path / "gres", executor=SlurmExecutor(partition=PARTITION))
    assert "\n" not in str(err.value)


def test_a_cancelled_task_is_run_again_by_the_same_sweep_and_only_it(tmp_path):
    out, cpus = tmp_path / "cancel", partition_info(PARTITION).cpus
    ex = SlurmExecutor(partition=PARTITION, cpus_per_task=cpus, threads=1, poll_s=0.3)  # one task at a time
    sweep = _Background(_spec(2, LONG), out, ex)
    running = _wait_for(lambda: _task_in(out, "RUNNING"), timeout=60, step=0.1)
    states = {t.task_id: t.state for t in slurm_jobs(out)}  # sweep status: one running, the other queued
    assert states[running] == "RUNNING" and sorted(states.values()) == ["PENDING", "RUNNING"]
    subprocess.run(["scancel", running], check=True)
    first = sweep.result()
    lost = [rid for rid, msg in first.lost.items() if "CANCELLED" in msg]
    assert len(lost) == 1 and first.counts == {"ok": 1, "pending": 1} and lost[0] not in first.executed
    assert sweep_status(out).counts["pending"] == 1
    _wait_for(lambda: slurm_jobs(out) == [], timeout=20)
    again = run_sweep(_spec(2, LONG), out, executor=ex)
    assert again.executed == lost and again.counts == {"ok": 2}  # only the missing run was submitted
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and runs["run_id"].is_unique and set(first.executed) | set(lost) == set(runs["run_id"])


def test_a_requeued_task_runs_again_and_the_sweep_completes(tmp_path):
    out, cpus = tmp_path / "requeue", partition_info(PARTITION).cpus
    ex = SlurmExecutor(partition=PARTITION, cpus_per_task=cpus, threads=1, poll_s=0.3)
    sweep = _Background(_spec(2, LONG), out, ex)
    running = _wait_for(lambda: _task_in(out, "RUNNING"), timeout=60, step=0.1)
    subprocess.run(["scontrol", "requeue", running], check=True)
    _wait_for(lambda: any(t.task_id == running and t.state == "PENDING" for t in slurm_jobs(out)), timeout=30)
    _release(running)  # skip the requeue delay
    summary = sweep.result()
    assert summary.counts == {"ok": 2} and len(summary.executed) == 2 and summary.lost == {}
    assert len(pd.read_csv(out / "runs.csv")) == 2


def test_ctrl_c_cancels_the_array_and_says_so(tmp_path):
    out = tmp_path / "interrupted"
    fixed = {**TINY, "tokens": LONG}  # runs that cannot finish before the Ctrl-C, however loaded the machine is
    script = textwrap.dedent(f"""
        import signal, sys
        signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C raises, even if this test's shell ignores it
        from scalefit.errors import SweepInterrupted
        from scalefit.sweeps.runner import run_sweep
        from scalefit.sweeps.slurm import SlurmExecutor
        from scalefit.sweeps.spec import parse_spec
        spec = parse_spec({{"name": "s", "fixed": {fixed!r}, "grid": {{"shape": [[16, 1]], "lr": [1e-3, 2e-3]}}}})
        try:
            run_sweep(spec, {str(out)!r}, executor=SlurmExecutor(partition={PARTITION!r}, poll_s=0.3))
        except SweepInterrupted as exc:
            print("cancelled", *exc.cancelled_jobs, flush=True)
            sys.exit(130)
    """)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    job = _wait_for(lambda: (out / "slurm_jobs.json").is_file() and read_jobs(out)[0]["job_id"], timeout=60)
    time.sleep(0.5)
    proc.send_signal(2)  # SIGINT, as Ctrl-C
    stdout, _ = proc.communicate(timeout=60)
    assert proc.returncode == 130 and stdout.split() == ["cancelled", job]
    _wait_for(lambda: not _queued(job), timeout=15)


def test_a_killed_sweep_is_resumed_by_waiting_for_its_queued_tasks(tmp_path):
    out, cpus = tmp_path / "killed", partition_info(PARTITION).cpus
    script = textwrap.dedent(f"""
        from scalefit.sweeps.runner import run_sweep
        from scalefit.sweeps.slurm import SlurmExecutor
        from scalefit.sweeps.spec import parse_spec
        spec = parse_spec({{"name": "s", "fixed": {TINY!r}, "grid": {{"shape": [[16, 1]], "lr": [1e-3, 2e-3]}}}})
        run_sweep(spec, {str(out)!r}, executor=SlurmExecutor(partition={PARTITION!r}, cpus_per_task={cpus}))
    """)  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", script])
    job = _wait_for(lambda: (out / "slurm_jobs.json").is_file() and read_jobs(out)[0]["job_id"], timeout=60)
    proc.kill()  # SIGKILL: no chance to cancel; the array keeps running
    proc.wait()
    assert _queued(job)
    summary = run_sweep(_spec(2), out, executor=SlurmExecutor(partition=PARTITION, cpus_per_task=cpus, poll_s=0.3))
    assert summary.counts == {"ok": 2} and [j["job_id"] for j in read_jobs(out)] == [job]  # nothing resubmitted
    assert len(list((out / "submitit").glob("*_submitted.pkl"))) == 2  # one submission per run


def test_cli_sweep_with_only_the_partition_and_status(tmp_path):
    """`scalefit sweep SPEC --executor slurm --partition P` from the command line: resources read from the
    partition (printed), every run finished, and `scalefit sweep-status` reports it."""
    spec = tmp_path / "tiny.toml"
    fixed = "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in TINY.items())
    spec.write_text(f'name = "tiny"\n[fixed]\n{fixed}\n[[grid]]\nshape = [[16, 1]]\nlr = [1e-3, 2e-3]\n')
    out = tmp_path / "out"
    cli = [sys.executable, "-c", "from scalefit.cli.app import main; main()"]
    done = subprocess.run([*cli, "sweep", str(spec), "--out", str(out), "--executor", "slurm", "--partition",
                           PARTITION, "--no-progress", "--threads", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"slurm: partition {PARTITION}" in done.stderr and "Traceback" not in done.stderr
    assert len(pd.read_csv(out / "runs.csv")) == 2
    status = subprocess.run([*cli, "sweep-status", str(out)], capture_output=True, text=True, timeout=60)
    assert status.returncode == 0 and "2 ok" in status.stdout, status.stdout + status.stderr
