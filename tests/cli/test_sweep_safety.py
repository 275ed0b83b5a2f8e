"""``scalefit sweep`` under hostile or careless use: every refusal is exit 1 and one line on stderr, no traceback,
inputs unchanged, nothing written outside the output folder; killed or interrupted sweeps leave no workers."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

runner = CliRunner()
TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
        "n_evals": 2, "tokens": 512, "device": "cpu", "width": 16, "depth": 1}  # fmt: skip
INTERRUPTED = "interrupted: {} runs finished, re-run the same command to resume"


def write_spec(path: Path, lrs=(1e-3, 2e-3), name: str = "t", grids: str | None = None) -> Path:
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items())
    grids = grids or f"[[grid]]\nlr = {json.dumps(list(lrs))}\n"
    path.write_text(f"name = {json.dumps(name)}\n[fixed]\n{body}\n{grids}")
    return path


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused(root: Path, args: list[str], message: str, *, inputs=(), out: Path | None = None, code: int = 1):
    """Run the CLI and check the refusal conventions; ``out`` is the only folder that may get new files."""
    hashes = {p: _digest(p) for p in inputs}
    before = set(root.rglob("*"))
    res = runner.invoke(app, args)
    lines = res.stderr.splitlines()
    assert res.exit_code == code, res.output
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert "Traceback" not in res.output and "internal error" not in res.output
    assert {p: _digest(p) for p in inputs} == hashes
    new = set(root.rglob("*")) - before
    assert all(out is not None and (p == out or out in p.parents) for p in new), sorted(new)
    return res


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b" / "c"  # relative escapes (runs/../../x) still land inside tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A spec and its finished two-run sweep folder (tests copy it before changing it)."""
    root = tmp_path_factory.mktemp("finished")
    spec = write_spec(root / "s.toml")
    res = runner.invoke(app, ["sweep", str(spec), "--out", str(root / "sweep"), "--workers", "0", "--json"])
    assert res.exit_code == 0, res.output
    return spec, root / "sweep"


def copy(finished, tmp_path: Path) -> tuple[Path, Path]:
    spec, out = finished
    shutil.copy(spec, tmp_path / "s.toml")
    shutil.copytree(out, tmp_path / "sweep")
    return tmp_path / "s.toml", tmp_path / "sweep"


# --------------------------------------------------------------------------- one spec per folder, one sweep at a time


def test_a_second_spec_is_refused_and_add_runs_keeps_every_row(finished, tmp_path):
    spec, out = copy(finished, tmp_path)
    other = write_spec(tmp_path / "other.toml", lrs=(4e-3,), name="other")
    tables = [out / "runs.csv", out / "curves.csv", out / "sweep.json"]
    args = ["sweep", str(other), "--out", str(out), "--workers", "0", "--json"]
    refused(tmp_path, args, "holds the runs of another spec", inputs=[spec, other, *tables])
    refused(tmp_path, args, "--add-runs to add its runs beside the existing ones", inputs=[other, *tables])
    res = runner.invoke(app, [*args, "--add-runs"])
    assert res.exit_code == 0, res.output
    assert len(pd.read_csv(out / "runs.csv")) == 3  # 2 + 1: the union
    res = runner.invoke(app, ["sweep", str(spec), "--out", str(out), "--workers", "0", "--json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["executed"] == []  # the first spec still resumes
    assert len(pd.read_csv(out / "runs.csv")) == 3


def test_a_folder_in_use_is_refused_naming_the_pid(tmp_path):
    spec = write_spec(tmp_path / "s.toml")
    out = tmp_path / "sweep"
    out.mkdir()
    hold = ("import sys, time; from pathlib import Path; from scalefit.sweeps.folder import folder_lock\n"
            "with folder_lock(Path(sys.argv[1])):\n    print('locked', flush=True); time.sleep(60)\n")  # fmt: skip
    holder = subprocess.Popen([sys.executable, "-c", hold, str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused(tmp_path, ["sweep", str(spec), "--out", str(out), "--workers", "0"],
                f"is in use by another sweep (pid {holder.pid})", inputs=[spec])  # fmt: skip
    finally:
        holder.kill()
        holder.wait()


def test_a_lock_file_symlink_is_not_followed(tmp_path):
    spec = write_spec(tmp_path / "s.toml")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    out = tmp_path / "sweep"
    out.mkdir()
    (out / ".lock").symlink_to(victim)
    refused(tmp_path, ["sweep", str(spec), "--out", str(out), "--workers", "0"], ".lock", inputs=[spec, victim])


@pytest.mark.parametrize("status", [False, True])
def test_a_run_folder_that_is_a_link_is_never_followed(finished, tmp_path, status):
    """`ln -s /tmp/outside OUT/<run_id>` then resume (or sweep-status): one line, nothing written outside."""
    spec, out = copy(finished, tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    rid = sorted(p.name for p in out.iterdir() if p.is_dir())[0]
    shutil.rmtree(out / rid)
    (out / rid).symlink_to(outside)
    args = ["sweep-status", str(out)] if status else ["sweep", str(spec), "--out", str(out), "--workers", "0"]
    refused(tmp_path, args, f"{rid} is a symbolic link", inputs=[spec, out / "runs.csv"],
            out=None if status else out)
    assert list(outside.iterdir()) == [] and (out / rid).is_symlink()


def test_a_table_that_is_a_link_is_never_followed(finished, tmp_path):
    spec, out = copy(finished, tmp_path)
    victim = tmp_path / "victim.csv"
    victim.write_text("precious\n")
    (out / "runs.csv").unlink()
    (out / "runs.csv").symlink_to(victim)
    refused(tmp_path, ["sweep", str(spec), "--out", str(out), "--workers", "0"], "runs.csv is a symbolic link",
            inputs=[spec, victim], out=out)
    assert (out / "runs.csv").is_symlink()


def test_a_linked_submitit_folder_is_never_followed(tmp_path):
    from scalefit.errors import OutputPathError
    from scalefit.sweeps.slurm import SlurmExecutor

    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "sweep").mkdir()
    (tmp_path / "sweep" / "submitit").symlink_to(outside)
    with pytest.raises(OutputPathError, match="submitit is a symbolic link"):
        SlurmExecutor(cluster="local").executor(tmp_path / "sweep" / "submitit")
    assert list(outside.iterdir()) == []


# --------------------------------------------------------------------------- names and output folders


@pytest.mark.parametrize("name", ["../../x", "/tmp/scalefit-escape", "a\\\\b", "x\\u0000y", "x\\u001b[2J", "..", ""])
def test_spec_names_that_leave_the_folder_are_refused(tmp_path, name):
    spec = tmp_path / "s.toml"
    spec.write_text(f'name = "{name}"\n[fixed]\n' + "\n".join(f"{k} = {json.dumps(v)}" for k, v in TINY.items()))
    for extra in (["--dry-run"], ["--workers", "0"]):
        refused(tmp_path, ["sweep", str(spec), *extra], ": name ", inputs=[spec])
    assert not Path("/tmp/scalefit-escape").exists()


@pytest.mark.parametrize(
    ("out", "message"),
    [(".", "does not name a sweep folder"), ("..", "does not name a sweep folder"), ("", "--out is empty"),
     ("file.txt", "is a file"), ("file.txt/sub", "lies under the file")],
)  # fmt: skip
def test_out_must_be_a_folder_to_create(tmp_path, out, message):
    spec = write_spec(tmp_path / "s.toml")
    Path("file.txt").write_text("mine\n")
    for extra in (["--dry-run"], ["--workers", "0"]):
        refused(tmp_path, ["sweep", str(spec), "--out", out, *extra], message, inputs=[spec, Path("file.txt")])


@pytest.mark.parametrize("content", [b'name = "t"\x00\xff\xfe\n', b"\x89PNG\r\n\x1a\n\x00\x00", b'name = "t\x00"\n'])
def test_a_binary_spec_is_one_line(tmp_path, content):
    spec = tmp_path / "s.toml"
    spec.write_bytes(content)
    refused(tmp_path, ["sweep", str(spec), "--workers", "0"], str(spec), inputs=[spec])


# --------------------------------------------------------------------------- disk full, broken files met on resume


def _disk_full(monkeypatch, only: str | None = None) -> None:
    real = os.replace

    def replace(src, dst, *args, **kwargs):
        if only is None or Path(dst).name == only:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "replace", replace)


@pytest.mark.parametrize("only", [None, "result.json"])
def test_disk_full_is_one_line_and_leaves_no_partial_files(tmp_path, monkeypatch, only):
    spec = write_spec(tmp_path / "s.toml", lrs=(1e-3,))
    out = tmp_path / "sweep"
    _disk_full(monkeypatch, only)
    refused(tmp_path, ["sweep", str(spec), "--out", str(out), "--workers", "0", "--json"],
            "No space left on device", inputs=[spec], out=out)  # fmt: skip
    assert not list(out.rglob("result.json")) and not list(out.rglob("*.tmp")) and not (out / "runs.csv").exists()


@pytest.mark.parametrize(
    ("content", "problem"),
    [("[]", "expected an object"), ('"ok"', "expected an object"), ("{}", "missing field"),
     ('{"run_id": "RID", "status": "ok", "loss": "low"}', "loss: expected a number")],
)  # fmt: skip
def test_a_result_json_of_the_wrong_shape_is_one_line(finished, tmp_path, content, problem):
    spec, out = copy(finished, tmp_path)
    rid = json.loads((out / "sweep.json").read_text())["runs"][0]["run_id"]
    path = out / rid / "result.json"
    path.write_text(content.replace("RID", rid))
    for args in (["sweep", str(spec), "--out", str(out), "--workers", "0"], ["sweep-status", str(out)]):
        res = refused(tmp_path, args, f"{path}: not a run result", inputs=[spec, path, out / "runs.csv"])
        assert problem in res.stderr and "delete the folder" in res.stderr


def test_a_broken_manifest_is_one_line(finished, tmp_path):
    spec, out = copy(finished, tmp_path)
    (out / "sweep.json").write_text('{"name": "s", "runs": "all"}')
    for args in (["sweep", str(spec), "--out", str(out), "--workers", "0"], ["sweep-status", str(out)]):
        refused(tmp_path, args, "sweep.json: not a sweep manifest", inputs=[spec, out / "sweep.json"])


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [("config.json", "{not json", "not valid JSON"), ("config.json", "[1]", "expected an object"),
     ("config.json", '{"lr": 0.001}', "missing field"), ("config.json", "", "is empty"),
     ("config.json", "\x00\x01", "not valid JSON"), ("result.json", '{"n_params": "many"}', "n_params: expected"),
     ("curve.csv", "", "unreadable CSV")],
)  # fmt: skip
def test_a_curve_folder_with_a_broken_run_file_is_one_line(finished, tmp_path, name, content, problem):
    _, out = copy(finished, tmp_path)
    rid = json.loads((out / "sweep.json").read_text())["runs"][0]["run_id"]
    path = out / rid / name
    path.write_text(content)
    res = refused(tmp_path, ["fit", "lr-annealing", str(out)], str(path), inputs=[path])
    assert problem in res.stderr and "remove the run folder" in res.stderr


def test_a_config_json_with_wrong_values_is_one_line(finished, tmp_path):
    _, out = copy(finished, tmp_path)
    rid = json.loads((out / "sweep.json").read_text())["runs"][0]["run_id"]
    path = out / rid / "config.json"
    config = json.loads(path.read_text())
    for key, value, problem in (("lr", "fast", "lr: expected a"), ("batch_size", 0, "one whole step"),
                                ("run_id", [1, 2], "run_id: expected a string"), ("n_tokens", 1.5, "whole number")):
        path.write_text(json.dumps({**config, key: value}))
        res = refused(tmp_path, ["fit", "lr-annealing", str(out)], str(path), inputs=[path])
        assert problem in res.stderr


# --------------------------------------------------------------------------- killed and interrupted sweeps

LONG_AND_SHORT = "[[grid]]\nlr = 1e-3\ntokens = 4000000\n[[grid]]\nlr = [2e-3, 3e-3]\n"  # one run of minutes


def _start(tmp_path: Path, **popen) -> tuple[subprocess.Popen, Path, str]:
    spec = write_spec(tmp_path / "k.toml", grids=LONG_AND_SHORT)
    out = tmp_path / "sweep"
    cmd = [sys.executable, "-c", "from scalefit.cli.app import main; main()", "sweep", str(spec), "--out", str(out),
           "--workers", "2", *popen.pop("args", ["--json"])]  # fmt: skip
    proc = subprocess.Popen(cmd, start_new_session=True, **popen)
    from scalefit.sweeps.runner import plan_sweep
    from scalefit.sweeps.spec import load_spec

    long_id = max(plan_sweep(load_spec(spec), out)[1], key=lambda r: r.n_tokens).run_id
    return proc, out, long_id


def _wait(proc, condition, what: str, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert proc.poll() is None, f"the sweep exited before {what}"
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _workers(pid: int) -> list[int]:
    kids = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        kids += [int(k) for k in (task / "children").read_text().split()]
    return [k for k in kids if b"spawn_main" in Path(f"/proc/{k}/cmdline").read_bytes()]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"  # zombies are gone
    except FileNotFoundError:
        return False


def _assert_gone(pids: list[int], within: float = 5.0) -> None:
    deadline = time.time() + within
    try:
        while any(_alive(p) for p in pids) and time.time() < deadline:
            time.sleep(0.05)
        assert not [p for p in pids if _alive(p)], f"workers still running {within}s after their parent died"
    finally:
        for p in pids:
            if _alive(p):
                os.kill(p, signal.SIGKILL)


needs_proc = pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")


@needs_proc
def test_workers_die_when_the_sweep_is_killed(tmp_path):
    proc, out, long_id = _start(tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait(proc, lambda: (out / long_id / "config.json").is_file() and len(_workers(proc.pid)) == 2, "training")
        workers = _workers(proc.pid)
        spec = tmp_path / "k.toml"  # a second sweep on the same folder, at the same time, is refused at once
        refused(tmp_path, ["sweep", str(spec), "--out", str(out), "--workers", "0"], f"(pid {proc.pid})", out=out)
    finally:
        os.kill(proc.pid, signal.SIGKILL)  # the parent only
        proc.wait()
    _assert_gone(workers)
    from scalefit.sweeps.folder import folder_lock

    with folder_lock(out):  # the dead sweep's lock is free at once
        pass


@needs_proc
def test_sigterm_stops_the_workers_and_writes_the_tables(tmp_path):
    errors = tmp_path / "stderr.txt"
    with errors.open("wb") as err:
        proc, out, long_id = _start(tmp_path, stdout=subprocess.DEVNULL, stderr=err)
        try:
            _wait(proc, lambda: len(list(out.glob("*/result.json"))) == 2 and (out / long_id / "config.json").is_file(),
                  "the short runs to finish")  # fmt: skip
            workers = _workers(proc.pid)
        finally:
            os.kill(proc.pid, signal.SIGTERM)
            code = proc.wait(timeout=30)
    _assert_gone(workers)
    assert code == 128 + signal.SIGTERM
    assert errors.read_text().splitlines() == [INTERRUPTED.format(2)]
    finished = {p.parent.name for p in out.glob("*/result.json")}
    assert set(pd.read_csv(out / "runs.csv")["run_id"]) == finished and long_id not in finished


@needs_proc
def test_ctrl_c_on_a_terminal_restores_the_cursor_and_says_how_to_resume(tmp_path):
    master, slave = pty.openpty()
    proc, out, long_id = _start(tmp_path, stdin=slave, stdout=slave, stderr=slave, args=[])
    os.close(slave)
    screen = bytearray()

    def read(seconds: float) -> bool:
        ready, _, _ = select.select([master], [], [], seconds)
        try:
            chunk = os.read(master, 65536) if ready else b""
        except OSError:  # the terminal closed
            return False
        screen.extend(chunk)
        return not ready or bool(chunk)

    try:
        _wait(proc, lambda: read(0.05) and (out / long_id / "config.json").is_file(), "training")
        workers = _workers(proc.pid)
        os.killpg(proc.pid, signal.SIGINT)  # what the terminal sends to the whole foreground group
        code = proc.wait(timeout=30)
        while read(0.2):
            pass
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    _assert_gone(workers)
    text = bytes(screen)
    assert code == 130
    assert text.rfind(b"\x1b[?25h") > text.rfind(b"\x1b[?25l") >= 0  # the bar hid the cursor; it is shown again
    last = text.decode(errors="replace").replace("\r", "").rstrip("\n").split("\n")[-1]
    assert last.endswith(INTERRUPTED.format(len(list(out.glob("*/result.json")))))
    assert b"Traceback" not in text
