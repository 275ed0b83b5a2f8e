"""Sweep folders under hostile or careless use: one spec per folder, one sweep at a time, names that stay
inside the folder, result files of the wrong shape, interrupts that leave consistent tables, file modes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from scalefit.errors import SweepError, SweepInterrupted  # noqa: E402
from scalefit.sweeps.executors import SerialExecutor, execute_run  # noqa: E402
from scalefit.sweeps.runner import plan_sweep, run_sweep  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402
from scalefit.sweeps.store import read_manifest, sweep_status  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 512, "device": "cpu", "width": 16, "depth": 1}  # fmt: skip
BAD_NAMES = ["../../x", "/abs/x", "", ".", "..", "a/b", "a\\b", "x\x00y", "x\ny", "C:x", "x" * 300]


def spec(lrs, name="t"):
    return parse_spec({"name": name, "fixed": TINY, "grid": {"lr": lrs}})


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished two-run sweep folder (copied by the tests that change it)."""
    out = tmp_path_factory.mktemp("done") / "sweep"
    run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor())
    return out


def copy(finished: Path, tmp_path: Path) -> Path:
    out = tmp_path / "sweep"
    shutil.copytree(finished, out)
    return out


# --------------------------------------------------------------------------- one spec per folder


def test_another_spec_is_refused_and_add_runs_keeps_every_row(finished, tmp_path):
    out = copy(finished, tmp_path)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    with pytest.raises(SweepError, match=r"holds the runs of another spec.*--add-runs"):
        run_sweep(spec([4e-3], name="other"), out, executor=SerialExecutor())
    assert before == {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != ".lock"}
    summary = run_sweep(spec([4e-3], name="other"), out, executor=SerialExecutor(), add_runs=True)
    assert len(summary.executed) == 1
    runs = pd.read_csv(out / "runs.csv")
    assert len(runs) == 3 and set(runs["status"]) == {"ok"}  # the union, nothing dropped
    manifest = read_manifest(out)
    assert len(manifest["specs"]) == 2 and len(manifest["runs"]) == 3
    # either spec now resumes in place without running or dropping anything
    for lrs in ([1e-3, 2e-3], [4e-3]):
        assert run_sweep(spec(lrs), out, executor=SerialExecutor()).executed == []
        assert len(pd.read_csv(out / "runs.csv")) == 3
    assert sweep_status(out).planned == 3


def test_a_grown_grid_supersedes_the_spec_it_contains(finished, tmp_path):
    out = copy(finished, tmp_path)
    grown = spec([1e-3, 2e-3, 4e-3])
    assert len(run_sweep(grown, out, executor=SerialExecutor(), add_runs=True).executed) == 1
    manifest = read_manifest(out)
    assert len(manifest["runs"]) == 3 and [s["source"] for s in manifest["specs"]] == [grown.source]
    assert run_sweep(grown, out, executor=SerialExecutor()).executed == []  # resumes without --add-runs
    with pytest.raises(SweepError, match="another spec"):  # the smaller grid is now another spec
        run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor())


def test_same_spec_resumes_and_legacy_manifest_is_adopted(finished, tmp_path):
    out = copy(finished, tmp_path)
    manifest = json.loads((out / "sweep.json").read_text())
    assert manifest["specs"][0]["fingerprint"]  # stored
    legacy = {k: v for k, v in manifest.items() if k != "specs"}  # a folder written before fingerprints
    (out / "sweep.json").write_text(json.dumps(legacy))
    assert run_sweep(spec([2e-3, 1e-3], name="renamed"), out, executor=SerialExecutor()).executed == []
    adopted = json.loads((out / "sweep.json").read_text())["specs"][0]
    assert adopted["fingerprint"] == manifest["specs"][0]["fingerprint"]
    with pytest.raises(SweepError, match="another spec"):
        run_sweep(spec([1e-3]), out, executor=SerialExecutor())  # a subset is another spec too


def test_a_folder_with_someone_elses_runs_csv_is_refused(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "runs.csv").write_text("N,D,loss\n1,2,3\n")
    with pytest.raises(SweepError, match="not a sweep folder"):
        run_sweep(spec([1e-3]), out, executor=SerialExecutor())
    assert (out / "runs.csv").read_text() == "N,D,loss\n1,2,3\n"


# --------------------------------------------------------------------------- one sweep at a time

HOLD = ("import sys, time; from pathlib import Path; from scalefit.sweeps.folder import folder_lock\n"
        "with folder_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)\n")  # fmt: skip


def hold_lock(folder: Path) -> subprocess.Popen:
    folder.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_a_running_sweep_locks_its_folder_and_a_dead_ones_lock_is_taken_over(tmp_path):
    out = tmp_path / "sweep"
    holder = hold_lock(out)
    try:
        with pytest.raises(SweepError, match=rf"in use by another sweep \(pid {holder.pid}\)"):
            run_sweep(spec([1e-3]), out, executor=SerialExecutor())
        assert not (out / "sweep.json").exists()  # refused before touching anything
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert (out / ".lock").read_text().strip() == str(holder.pid)  # a stale lock file from a dead process
    assert len(run_sweep(spec([1e-3]), out, executor=SerialExecutor()).executed) == 1
    assert (out / ".lock").read_text().strip() == str(os.getpid())


# --------------------------------------------------------------------------- names stay single folder names


@pytest.mark.parametrize("name", BAD_NAMES)
def test_spec_names_must_be_single_folder_names(name):
    with pytest.raises(SweepError, match="name"):
        parse_spec({"name": name, "fixed": TINY})


@pytest.mark.parametrize("out", [".", "..", "", "a/..", "/"])
def test_out_must_name_a_folder(out, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SweepError, match="--out"):
        plan_sweep(spec([1e-3]), out)
    assert list(tmp_path.iterdir()) == []


def test_a_run_named_outside_its_folder_is_refused(tmp_path):
    _, (run,) = plan_sweep(spec([1e-3]), tmp_path / "sweep")
    config = {**run.config.to_dict(), "name": ".."}
    with pytest.raises(SweepError, match="does not match the sweep folder"):
        execute_run(config, str(tmp_path / "sweep"))
    assert list(tmp_path.iterdir()) == []


# --------------------------------------------------------------------------- result files met on resume


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("[1, 2]", "expected an object"),
        ('"done"', "expected an object"),
        ('{"run_id": "RID", "loss": 2.0}', "missing field 'status'"),
        ('{"run_id": "RID", "status": "ok"}', "missing field 'loss'"),
        ('{"run_id": "RID", "status": "ok", "loss": "low"}', "loss: expected a number"),
        ('{"run_id": "RID", "status": "ok", "loss": true}', "loss: expected a number"),
        ('{"run_id": "RID", "status": "great", "loss": 2.0}', "status 'great'"),
        ('{"run_id": "0123456789ab", "status": "ok", "loss": 2.0}', "is not its folder's"),
    ],
)
def test_a_result_of_the_wrong_shape_is_refused_naming_the_file(finished, tmp_path, content, problem):
    out = copy(finished, tmp_path)
    rid = read_manifest(out)["runs"][0]["run_id"]
    path = out / rid / "result.json"
    path.write_text(content.replace("RID", rid))
    with pytest.raises(SweepError) as err:
        run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor())
    assert str(path) in str(err.value) and problem in str(err.value) and "delete the folder" in str(err.value)
    assert path.read_text() == content.replace("RID", rid)
    with pytest.raises(SweepError, match="not a run result"):
        sweep_status(out)


@pytest.mark.parametrize("content", ['{"run_id": "x", "sta', "", "\x00\xff"])
def test_a_truncated_result_counts_as_unfinished(finished, tmp_path, content):
    out = copy(finished, tmp_path)
    rid = read_manifest(out)["runs"][1]["run_id"]
    (out / rid / "result.json").write_text(content, errors="surrogateescape")
    assert run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor()).executed == [rid]


@pytest.mark.parametrize("content", ["", "a,b\n1,2\n", "\x00\x01\x02"])
def test_an_unreadable_curve_is_refused_naming_the_file(finished, tmp_path, content):
    out = copy(finished, tmp_path)
    rid = read_manifest(out)["runs"][0]["run_id"]
    (out / rid / "curve.csv").write_text(content)
    with pytest.raises(SweepError, match=rf"{rid}/curve.csv: unreadable curve .*delete the folder"):
        run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor())


@pytest.mark.parametrize(
    "content", ["[]", '{"name": "s"}', '{"name": "s", "runs": [{"run_id": "../../x"}]}', '{"name": "s", "runs": [3]}']
)
def test_a_broken_manifest_is_refused(finished, tmp_path, content):
    out = copy(finished, tmp_path)
    (out / "sweep.json").write_text(content)
    with pytest.raises(SweepError, match="sweep.json: not a sweep manifest"):
        sweep_status(out)
    with pytest.raises(SweepError, match="sweep.json: not a sweep manifest"):
        run_sweep(spec([1e-3, 2e-3]), out, executor=SerialExecutor())


# --------------------------------------------------------------------------- interrupts


class _InterruptAfterOneRun:
    """Runs the first run fully (its result on disk, never reported, as a worker finishing at Ctrl-C), then ^C."""

    def execute(self, runs, sweep_dir, emit):
        execute_run(runs[0].config.to_dict(), str(sweep_dir))
        raise KeyboardInterrupt


def test_an_interrupt_rewrites_the_tables_from_the_finished_runs(tmp_path):
    out = tmp_path / "sweep"
    with pytest.raises(SweepInterrupted) as err:
        run_sweep(spec([1e-3, 2e-3, 4e-3]), out, executor=_InterruptAfterOneRun())
    assert err.value.finished == 1 and err.value.planned == 3
    assert str(err.value) == "interrupted: 1 runs finished, re-run the same command to resume"
    finished = {p.parent.name for p in out.glob("*/result.json")}
    assert len(finished) == 1 and set(pd.read_csv(out / "runs.csv")["run_id"]) == finished
    assert set(pd.read_csv(out / "curves.csv")["run_id"]) == finished
    resumed = run_sweep(spec([1e-3, 2e-3, 4e-3]), out, executor=SerialExecutor())
    assert len(resumed.executed) == 2 and resumed.skipped == 1


# --------------------------------------------------------------------------- file modes


def test_outputs_get_the_umask_mode(tmp_path):
    old = os.umask(0o022)
    try:
        out = tmp_path / "sweep"
        (rid,) = run_sweep(spec([1e-3]), out, executor=SerialExecutor()).executed
    finally:
        os.umask(old)
    for path in (out / "runs.csv", out / "curves.csv", out / "sweep.json", out / rid / "result.json",
                 out / rid / "config.json", out / rid / "curve.csv"):  # fmt: skip
        assert oct(path.stat().st_mode & 0o777) == oct(0o644), path
