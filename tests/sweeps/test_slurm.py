"""The Slurm executor without a cluster: submitit's local executor, and fake sinfo/squeue/sbatch on PATH.

The same paths against a real scheduler are in test_slurm_cluster.py (marked ``slurm``).
"""

from __future__ import annotations

import json
import logging
import os
import signal

import pandas as pd
import pytest

pytest.importorskip("torch")
pytest.importorskip("submitit")

from scalefit.errors import SweepError  # noqa: E402
from scalefit.sweeps.executors import SlurmExecutor  # noqa: E402
from scalefit.sweeps.runner import plan_sweep, run_sweep  # noqa: E402
from scalefit.sweeps.slurm import _quiet_submitit  # noqa: E402
from scalefit.sweeps.slurm_cluster import (  # noqa: E402
    Node,
    Partition,
    parse_gpus,
    parse_time_min,
    partition_info,
    queue_states,
    requeue,
)
from scalefit.sweeps.slurm_jobs import JOBS, slurm_jobs  # noqa: E402
from scalefit.sweeps.slurm_resources import SlurmResources, never_runs, resolve_resources  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 1024, "device": "cpu"}  # fmt: skip
GB = 1024


def _tools(tmp_path, monkeypatch, **scripts: str) -> None:
    """Fake Slurm commands (name -> shell body) first on PATH."""
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    for tool, body in scripts.items():
        (fake / tool).write_text(f"#!/bin/sh\n{body}\n")
        (fake / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")


def _partition(*nodes: tuple[int, int, int], limit: int | None = None, state: str = "idle") -> Partition:
    return Partition("p", tuple(Node(f"n{i}", c, m, g, state) for i, (c, m, g) in enumerate(nodes)), limit)


def test_two_run_sweep_through_submitit_local_executor(tmp_path):
    spec = parse_spec({"name": "s", "fixed": TINY, "grid": {"shape": [[16, 1]], "lr": [1e-3, 3e-3]}})
    ex = SlurmExecutor(cluster="local", gpus_per_task=0, cpus_per_task=1, time_min=10, poll_s=0.2, threads=1)
    events = []
    out = tmp_path / "sweep"
    summary = run_sweep(spec, out, executor=ex, on_event=lambda e: events.append(e.kind))
    assert summary.counts == {"ok": 2} and len(summary.executed) == 2
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 2 and set(runs["status"]) == {"ok"} and (runs["loss"] > 0).all()
    assert all((out / rid / "curve.csv").is_file() for rid in runs["run_id"])  # results in the same run folders
    assert any((out / "submitit").glob("*_log.out"))  # the jobs really went through submitit
    assert events.count("start") == 2 and events.count("done") == 2
    assert run_sweep(spec, out, executor=ex).executed == []  # resumable like the local path


def test_slurm_parameters_reach_the_sbatch_script(tmp_path, monkeypatch):
    _tools(tmp_path, monkeypatch, srun="exit 1", sbatch="exit 1")  # submitit only checks that srun exists
    ex = SlurmExecutor(partition="gpu", array_parallelism=8, account="acct", setup=["module load cuda"],
                       extra={"qos": "high"})  # fmt: skip
    res = SlurmResources("gpu", time_min=30, gpus_per_task=2, cpus_per_task=4, mem_gb=16)
    text = ex.executor(tmp_path / "submitit", res)._executor._make_submission_file_text("python -m x", "uid")
    for line in ("--partition=gpu", "--time=30", "--gpus-per-node=2", "--cpus-per-task=4", "--mem=16GB",
                 "--account=acct", "--qos=high", "module load cuda"):  # fmt: skip
        assert line in text


def test_no_slurm_here_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(SweepError, match="cannot submit to Slurm"):
        SlurmExecutor().executor(tmp_path / "submitit", SlurmResources(None, 10, 0, 1, None))
    with pytest.raises(SweepError, match="sinfo not found"):
        SlurmExecutor().resources()


def test_gres_and_time_limits_are_parsed():
    assert [parse_gpus(g) for g in ("(null)", "gpu:8", "gpu:a100:4(S:0-1),gpu:v100:2", "gpu:tesla:2,mps:200")] == [
        0, 8, 6, 2]  # fmt: skip
    assert [parse_time_min(t) for t in ("infinite", "30:00", "1:00:00", "2-00:00:00", "1-12", "45")] == [
        None, 30, 60, 2880, 2160, 45]  # fmt: skip


def test_defaults_are_derived_from_the_partition():
    cpu = resolve_resources(_partition((2, 21 * GB, 0)), time_min=None, gpus_per_task=None, cpus_per_task=None,
                            mem_gb=None)  # fmt: skip
    assert (cpu.gpus_per_task, cpu.cpus_per_task, cpu.mem_gb, cpu.time_min) == (0, 2, 21.0, 60)
    gpu = resolve_resources(_partition((64, 512 * GB, 8), limit=30), time_min=None, gpus_per_task=None,
                            cpus_per_task=None, mem_gb=None)  # fmt: skip
    assert (gpu.gpus_per_task, gpu.cpus_per_task, gpu.mem_gb, gpu.time_min) == (1, 8, 64.0, 30)
    small = resolve_resources(_partition((16, 128 * GB, 4)), time_min=None, gpus_per_task=None, cpus_per_task=2,
                              mem_gb=None)  # fmt: skip
    assert small.mem_gb == 32.0  # 4 tasks fit (by GPUs), each gets a quarter of the memory
    no_mem = resolve_resources(_partition((4, 1, 0)), time_min=5, gpus_per_task=0, cpus_per_task=1, mem_gb=None)
    assert no_mem.mem_gb is None and no_mem.time_min == 5  # memory not configured: the cluster's default


@pytest.mark.parametrize(
    ("asked", "message"),
    [
        ({"cpus_per_task": 8}, "--cpus-per-task 8 but partition p has nodes with 2 CPUs"),
        ({"gpus_per_task": 1}, "--gpus-per-task 1 but partition p has no GPUs"),
        ({"time_min": 120}, "--time 120 but partition p allows at most 60 min"),
        ({"mem_gb": 64}, "--mem-gb 64 but partition p has nodes with 21.0 GB"),
        ({"cpus_per_task": 0}, "--cpus-per-task 0: must be at least 1"),
    ],
)
def test_a_request_that_can_never_fit_names_the_flag(asked, message):
    request = {"time_min": None, "gpus_per_task": None, "cpus_per_task": None, "mem_gb": None, **asked}
    with pytest.raises(SweepError, match=message):
        resolve_resources(_partition((2, 21 * GB, 0), limit=60), **request)


def test_a_request_no_single_node_meets_is_refused():
    part = _partition((64, 256 * GB, 0), (8, 64 * GB, 4))  # big CPU nodes, small GPU nodes
    with pytest.raises(SweepError, match="no node of partition p has 32 CPUs, 1 GPU together"):
        resolve_resources(part, time_min=None, gpus_per_task=1, cpus_per_task=32, mem_gb=None)


def test_pending_reasons_that_never_resolve():
    up, down = _partition((2, GB, 0)), _partition((2, GB, 0), state="down*")
    assert "exceeds" in never_runs("PartitionConfig", None)
    assert "--account" in never_runs("InvalidAccount", None)
    assert "per-job limit" in never_runs("QOSMaxCpuPerJobLimit", None)
    assert never_runs("Resources", None) is None and never_runs("Priority", None) is None
    assert never_runs("ReqNodeNotAvail, UnavailableNodes:n0", up) is None  # busy or reserved: it may start
    assert "no node of partition p is up (n0 down*)" in never_runs("ReqNodeNotAvail, UnavailableNodes:n0", down)


def test_partitions_and_queue_from_the_tools(tmp_path, monkeypatch):
    _tools(tmp_path, monkeypatch, sinfo="""case "$*" in
  *-N*) echo 'n1|2|21000|(null)|idle|infinite'; echo 'n2|4|8000|gpu:a100:2(S:0)|mix|1:00:00' ;;
  *) echo 'debug*'; echo 'gpu' ;;
esac""", squeue="""case "$*" in
  *99*) echo 'slurm_load_jobs error: Invalid job id specified' >&2; exit 1 ;;
  *77*) echo 'slurm_load_jobs error: Unable to contact slurm controller' >&2; exit 1 ;;
  *) echo '12_0|RUNNING|None'; echo '12_1|PENDING|Resources' ;;
esac""")  # fmt: skip
    part = partition_info(None)
    assert part.name == "debug" and (part.cpus, part.gpus, part.mem_mb) == (4, 2, 21000)
    assert queue_states(["12"]) == {"12_0": ("RUNNING", "None"), "12_1": ("PENDING", "Resources")}
    assert queue_states(["99"]) == {} and queue_states(["77"]) is None  # all gone vs. no answer
    (tmp_path / JOBS).write_text(json.dumps({"jobs": [{"job_id": "12", "tasks": {"12_0": "a", "12_1": "b",
                                                                                 "12_2": "c"}}]}))  # fmt: skip
    assert [(t.run_id, t.state) for t in slurm_jobs(tmp_path)] == [("a", "RUNNING"), ("b", "PENDING")]
    (tmp_path / JOBS).write_text('{"jobs": 3}')
    with pytest.raises(SweepError, match="not a Slurm job record"):
        slurm_jobs(tmp_path)


def test_a_task_requeueing_itself_survives_the_requeues_own_sigterm(tmp_path, monkeypatch):
    # Slurm signals every process of a task that requeued itself as soon as it accepted, scontrol included; under load
    # the signal could kill scontrol before it exited (-15), and the requeued task reported a failure (found in CI)
    _tools(tmp_path, monkeypatch, scontrol='echo "$*" > "$0.args"; kill -TERM $$; exit 0')
    before = signal.getsignal(signal.SIGTERM)
    requeue("12_3")
    assert (tmp_path / "bin" / "scontrol.args").read_text().split() == ["requeue", "12_3"]
    assert signal.getsignal(signal.SIGTERM) is before  # the task's own handler is back
    _tools(tmp_path, monkeypatch, scontrol="echo 'scontrol: error: Job is not running' >&2; exit 1")
    with pytest.raises(SweepError, match=r"^scontrol requeue 12_3 failed: Job is not running$"):
        requeue("12_3")
    _tools(tmp_path, monkeypatch, scontrol="exit 3")
    with pytest.raises(SweepError, match="failed: return code 3$"):
        requeue("12_3")


def test_an_unknown_partition_names_the_ones_there_are(tmp_path, monkeypatch):
    _tools(tmp_path, monkeypatch, sinfo="case \"$*\" in *-N*) ;; *) echo 'debug*' ;; esac")
    with pytest.raises(SweepError, match=r"partition 'nope' does not exist .*partitions: debug"):
        SlurmExecutor(partition="nope").resources()


def test_an_sbatch_refusal_is_one_line(tmp_path, monkeypatch):
    body = ("echo 'sbatch: error: Batch job submission failed: Invalid account or account/partition combination "
            "specified' >&2; exit 1")  # fmt: skip
    _tools(tmp_path, monkeypatch, srun="exit 1", sbatch=body)
    spec = parse_spec({"name": "s", "fixed": TINY, "grid": {"shape": [[16, 1]], "lr": [1e-3, 3e-3]}})
    sweep_dir, runs = plan_sweep(spec, tmp_path / "s")
    res = SlurmResources("debug", 10, 0, 1, None)
    with pytest.raises(SweepError) as err:
        SlurmExecutor(account="nope").submit(runs, sweep_dir, res)
    assert str(err.value).startswith("sbatch refused the sweep's job array: Batch job submission failed: Invalid ")
    assert "\n" not in str(err.value)


def test_submitit_sacct_warnings_are_filtered(caplog):
    log = logging.getLogger("submitit")
    with caplog.at_level(logging.WARNING, logger="submitit"), _quiet_submitit():
        log.warning("Call #3 - Bypassing sacct error Command 'sacct' returned 1, status may be inaccurate.")
        log.warning("something else")
    assert [r.getMessage() for r in caplog.records] == ["something else"]
