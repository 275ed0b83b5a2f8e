"""Adversarial files and paths: outputs never replace inputs, unreadable run logs are one-line errors,
outputs are atomic and respect the umask (issue: safety and data integrity)."""

from __future__ import annotations

import errno
import os
import stat

import pandas as pd
import pytest

from scalefit import _io
from scalefit.errors import OutputPathError
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.safety import refused, snapshot

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
PARAMS = "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28"


@pytest.fixture
def folder(tmp_path):
    simulate(get_law("chinchilla"), TRUE, n_points=30, noise=0.005, seed=1).to_csv(tmp_path / "runs.csv", index=False)
    (tmp_path / "link.csv").symlink_to("runs.csv")
    os.link(tmp_path / "runs.csv", tmp_path / "hard.json")
    (tmp_path / "sub").mkdir()
    return tmp_path


@pytest.mark.parametrize(
    "args,found",
    [
        (["fit", "chinchilla", "runs.csv", "--out", "runs.csv"], "is the input"),
        (["fit", "chinchilla", "runs.csv", "--out", "link.csv"], "is the input"),
        (["fit", "chinchilla", "link.csv", "--out", "runs.csv"], "is the input"),
        (["fit", "chinchilla", "runs.csv", "--out", "hard.json"], "is the input"),
        (["fit", "chinchilla", "runs.csv", "--out", "./sub/../runs.csv"], "is the input"),
        (["fit", "isoflop", "runs.csv", "--out", "runs.csv"], "is the input"),
        (["backtest", "chinchilla", "runs.csv", "--holdout", "N > 1e9", "--out", "runs.csv"], "is the input"),
        (["backtest", "chinchilla", "runs.csv", "--holdout", "N > 1e9", "--out", "link.csv"], "is the input"),
        (["simulate", "chinchilla", "--params", PARAMS, "--out", "runs.csv"], "--overwrite"),
        (["fit", "chinchilla", "runs.csv", "--out", "."], "is a folder"),
        (["fit", "chinchilla", "runs.csv", "--out", ""], "--out"),
        (["fit", "chinchilla", "runs.csv", "--out", "sub"], "is a folder"),
        (["backtest", "chinchilla", "runs.csv", "--holdout", "N > 1e9", "--out", "sub"], "is a folder"),
    ],
)
def test_outputs_never_replace_inputs(folder, args, found):
    refused(args, folder, contains=found)


def _write(folder, name, data: bytes):
    (folder / name).write_bytes(data)
    return name


@pytest.mark.parametrize(
    "name,data,found",
    [
        ("bin.csv", bytes(range(256)) * 4, "binary file"),
        ("latin.csv", "N,D,loss,name\n1e8,1e9,3.1,café\n".encode("latin-1"), "not UTF-8"),
        ("utf16.csv", "N,D,loss\n1e8,1e9,3.1\n".encode("utf-16"), "binary file"),
        ("bad.parquet", b"N,D,loss\n1e8,1e9,3.1\n", "not a readable Parquet file"),
        ("empty.csv", b"", "empty"),
        ("blank.csv", b"\n\n   \n", "empty"),
        ("header.csv", b"N,D,loss\n", "no rows"),
        ("ragged.csv", b"N,D,loss\n1e8,1e9,3.1\n1e8,1e9,3.1,7,8\n", "not a valid CSV"),
        ("dupe.csv", b"N,N,loss\n1e8,1e9,3.1\n", "duplicate column"),
        ("text.csv", b"N,D,loss\n1e8,1e9,low\n", "non-numeric value"),
        ("nan.csv", b"N,D,loss\n1e8,1e9,\n2e8,1e9,3\n", "missing (NaN)"),
        ("neg.csv", b"N,D,loss\n-1e8,1e9,3.1\n2e8,1e9,3\n", "must be > 0"),
        ("bool.csv", b"N,D,loss\nTrue,1e9,3.1\nFalse,2e9,3\n", "true/false values"),
        ("bad.tsv", b"N\tD\tloss\n1e8\t\xff\t3.1\n", "not UTF-8"),
    ],
)
def test_unreadable_run_logs_are_one_line_errors(folder, name, data, found):
    _write(folder, name, data)
    refused(["fit", "chinchilla", name, "--out", "fit.json"], folder, contains=found)


@pytest.mark.parametrize(
    "args,found",
    [
        (["fit", "chinchilla", "sub"], "is a directory"),
        (["fit", "chinchilla", "nothere.csv"], "not found"),
        (["fit", "power", "runs.csv", "--x", "flag"], "true/false values"),
    ],
)
def test_bad_run_log_paths_and_columns(folder, args, found):
    frame = pd.read_csv(folder / "runs.csv")
    frame["flag"] = frame["n_params"] > 1e9
    frame.to_csv(folder / "runs.csv", index=False)
    refused(args, folder, contains=found)


def test_disk_full_while_writing_is_one_line_and_leaves_nothing(folder, monkeypatch):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(_io.os, "replace", full)
    refused(["fit", "chinchilla", "runs.csv", "--out", "fit.json"], folder, contains="No space left on device")


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
    target = tmp_path / "fit.json"
    target.write_text("old")

    def boom(self, *_a, **_k):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(type(target), "write_text", boom)
    with pytest.raises(OutputPathError, match="Input/output error; nothing was written"):
        _io.write_text_atomic(target, "new")
    monkeypatch.undo()
    assert target.read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["fit.json"]


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_outputs_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        _io.write_text_atomic(tmp_path / "a.json", "{}")
        _io.write_csv_atomic(tmp_path / "b.csv", pd.DataFrame({"x": [1]}))
    finally:
        os.umask(old)
    for name in ("a.json", "b.csv"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == mode


def test_fit_writes_a_readable_fit_file_and_leaves_the_run_log_alone(folder):
    from typer.testing import CliRunner

    from scalefit.cli.app import app

    before = snapshot(folder)
    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(app, ["fit", "chinchilla", str(folder / "runs.csv"), "--out", str(folder / "f.json")])
    finally:
        os.umask(old)
    assert res.exit_code == 0, res.output
    assert stat.S_IMODE((folder / "f.json").stat().st_mode) == 0o644
    after = snapshot(folder)
    assert {k: v for k, v in after.items() if k != "f.json"} == before


@pytest.mark.parametrize(
    "args,found",
    [
        (["plan", "fit.json", "--compute", "abc"], "Invalid value for '--compute'"),
        (["fit"], "Missing argument"),
        (["fitt"], "No such command 'fitt'"),
        (["fit", "chinchilla", "runs.csv", "--bogus"], "No such option: --bogus"),
    ],
)
def test_usage_errors_are_one_line_from_the_installed_command(tmp_path, args, found):
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", "from scalefit.cli.app import main; main()", *args],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and found in lines[0] and "--help" in lines[0], res.stderr
    assert "Traceback" not in res.stderr
