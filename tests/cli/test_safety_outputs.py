"""Outputs are regular files only (issue 28): a --out that is a device, FIFO, socket, a link to one or a path in
/proc is refused in one line and left as it was; an existing output keeps its mode; temp files left by a killed
write are removed by the next write; no link inside a folder scalefit owns is followed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading

import pytest
from typer.testing import CliRunner

from scalefit import _io
from scalefit.cli.app import app
from scalefit.errors import OutputPathError
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.safety import refused

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
PARAMS = "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28"
ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def folder(tmp_path):
    simulate(get_law("chinchilla"), TRUE, n_points=20, noise=0.005, seed=1).to_csv(tmp_path / "runs.csv", index=False)
    os.mkfifo(tmp_path / "fifo")
    (tmp_path / "to-fifo").symlink_to("fifo")
    (tmp_path / "to-fd").symlink_to("/proc/self/fd/1")
    (tmp_path / "to-stdout").symlink_to("/dev/stdout")
    return tmp_path


def _kind(path) -> str:
    return stat.filemode(os.lstat(path).st_mode)[0]


@pytest.mark.parametrize("command", [
    ["fit", "chinchilla", "runs.csv"],
    ["backtest", "chinchilla", "runs.csv", "--holdout", "N > 1e9"],
    ["simulate", "chinchilla", "--params", PARAMS, "--overwrite"],
])
@pytest.mark.parametrize("out,found", [
    ("fifo", "is a FIFO"),
    ("to-fifo", "a FIFO"),
    ("to-fd", "links to '/proc/self/fd/1'"),
    ("to-stdout", "links to '/dev/stdout'"),
])
def test_special_outputs_are_refused_in_one_line_and_left_alone(folder, command, out, found):
    kinds = {name: _kind(folder / name) for name in ("fifo", "to-fifo", "to-fd", "to-stdout")}
    line = refused([*command, "--out", out], folder, contains=found)
    assert "only regular files" in line
    assert {name: _kind(folder / name) for name in kinds} == kinds  # the FIFO is a FIFO, the links are links


def test_a_fifo_output_is_refused_before_any_work(folder):
    """A reader waiting on the FIFO would get nothing: refused up front, so nobody blocks and no temp file is left."""
    import scalefit

    (folder / "fit.json").write_text(scalefit.fit("chinchilla", str(folder / "runs.csv")).to_json())
    refused(["plot", "fit.json", "--out", "to-fifo"], folder, contains="FIFO")


@pytest.mark.parametrize("path,found", [
    ("/dev/full", "lies in /dev"), ("/dev/null", "lies in /dev"), ("/dev/stdout", "lies in /dev"),
    ("/proc/self/fd/1", "lies in /proc/self/fd"), ("/sys/kernel/x.json", "lies in /sys/kernel"),
])
def test_system_paths_are_never_outputs(path, found):
    """Checked without writing: the check names the problem for the device paths of the issue."""
    assert found in _io.special_file_problem(path)
    with pytest.raises(OutputPathError, match="only regular files"):
        _io.check_output_file(path)


def test_devices_are_refused_through_a_link_and_stay_devices(tmp_path):
    link = tmp_path / "full.json"
    link.symlink_to("/dev/full")
    before = os.stat("/dev/full")
    assert "links to '/dev/full'" in _io.special_file_problem(link)
    with pytest.raises(OutputPathError, match="only regular files"):
        _io.write_text_atomic(link, "{}")
    after = os.stat("/dev/full")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev and link.is_symlink()


@pytest.mark.skipif(not ROOT, reason="root can replace device nodes; only then does the CLI case matter")
def test_root_cannot_replace_a_device_through_the_cli(folder):
    (folder / "null.json").symlink_to("/dev/null")
    before = os.stat("/dev/null")
    refused(["fit", "chinchilla", "runs.csv", "--out", "null.json"], folder, contains="/dev/null")
    after = os.stat("/dev/null")
    assert stat.S_ISCHR(after.st_mode) and after.st_rdev == before.st_rdev


def test_regular_files_and_links_to_them_are_still_written(tmp_path):
    (tmp_path / "real.json").write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    assert _io.special_file_problem(tmp_path / "link.json") is None
    assert _io.special_file_problem(tmp_path / "new" / "fit.json") is None
    _io.write_text_atomic(tmp_path / "real.json", "new")
    assert (tmp_path / "real.json").read_text() == "new"


def test_dash_is_stdout_only_where_a_command_prints(folder):
    res = CliRunner().invoke(app, ["simulate", "chinchilla", "--params", PARAMS, "--points", "5", "--out", "-"])
    assert res.exit_code == 0 and res.stdout.startswith("n_params,n_tokens,flops,loss") and not (folder / "-").exists()
    refused(["fit", "chinchilla", "runs.csv", "--out", "-"], folder, contains="not stdout")


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_an_overwritten_output_keeps_its_mode(folder, mode):
    out = folder / "fit.json"
    out.write_text("{}")
    out.chmod(mode)
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(folder / "runs.csv"), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE(out.stat().st_mode) == mode and "chinchilla" in out.read_text()


def test_a_new_output_next_to_a_private_one_gets_the_umask_mode(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    (tmp_path / "a.json").chmod(0o600)
    old = os.umask(0o022)
    try:
        _io.write_text_atomic(tmp_path / "b.json", "{}")
        _io.write_text_atomic(tmp_path / "a.json", "[]")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "b.json").stat().st_mode) == 0o644
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == 0o600


def test_temp_files_of_a_killed_write_are_removed_by_the_next_write(tmp_path):
    """A real kill -9 in the middle of a write, then the next write to the same place removes what it left."""
    code = ("import os, sys; from scalefit import _io\n"
            "with _io.atomic_path(sys.argv[1]) as tmp:\n"
            "    tmp.write_bytes(b'x' * 4096); print('writing', flush=True); os.kill(os.getpid(), 9)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "fit.json")], capture_output=True, text=True)
    assert proc.returncode == -9 and "writing" in proc.stdout
    left = sorted(p.name for p in tmp_path.iterdir())
    assert len(left) == 1 and left[0].startswith(".fit.json.") and left[0].endswith(".tmp")
    (tmp_path / ".fit.json.abcd1234.tmp.png").write_bytes(b"old figure")  # save_figure's temp names
    (tmp_path / ".other.json.abcd1234.tmp").write_bytes(b"another output's")
    (tmp_path / ".fit.json.mine.tmp").write_bytes(b"not a name scalefit makes")
    _io.write_text_atomic(tmp_path / "fit.json", "{}")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fit.json.mine.tmp", ".other.json.abcd1234.tmp",
                                                          "fit.json"]


def test_a_temp_file_still_being_written_is_kept(tmp_path):
    """Two writers of the same file: the second never removes the first one's temp file mid-write."""
    inside, release = threading.Event(), threading.Event()

    def slow():
        with _io.atomic_path(tmp_path / "fit.json") as tmp:
            tmp.write_text("first")
            inside.set()
            release.wait(10)

    t = threading.Thread(target=slow)
    t.start()
    assert inside.wait(10)
    _io.write_text_atomic(tmp_path / "fit.json", "second")
    temps = [p for p in tmp_path.iterdir() if p.name.startswith(".fit.json.")]
    release.set()
    t.join()
    assert len(temps) == 1 and (tmp_path / "fit.json").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.json"]


def test_no_link_below_an_owned_folder_is_followed(tmp_path):
    owned, outside = tmp_path / "sweep", tmp_path / "outside"
    owned.mkdir()
    outside.mkdir()
    (owned / "run1").symlink_to(outside)
    (owned / "runs.csv").symlink_to(outside / "x.csv")
    for path, link in ((owned / "run1" / "result.json", "run1"), (owned / "runs.csv", "runs.csv")):
        with pytest.raises(OutputPathError, match=f"{link} is a symbolic link .* never follows a link inside"):
            _io.write_json_atomic(path, {}, within=owned)
    with pytest.raises(OutputPathError, match="lies outside"):
        _io.write_json_atomic(outside / "x.json", {}, within=owned)
    assert list(outside.iterdir()) == []
    _io.write_json_atomic(owned / "run2" / "result.json", {}, within=owned)  # a real folder is fine
    assert (owned / "run2" / "result.json").is_file()
