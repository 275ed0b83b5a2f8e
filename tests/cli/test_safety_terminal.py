"""Text from data never drives the terminal (issue 28): control characters in CSV cells, column names and run
messages are printed as visible escapes, and rich markup in them (``[red]x``) is printed literally."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.cli.common import printable
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
EVIL = {"clear": "\x1b[2J\x1b[Hx", "title": "\x1b]0;owned\x07t", "bidi": "a\u202eb", "cr": "ok\rFAKE", "csi": "\x9b31m"}
CELLS = ("\x1b[2J\x1b[Hx", "\x1b]0;owned\x07t a\u202eb \x9b31m", "[red]x[/red]")  # a CSV reader splits rows at \r
ALL = ("\x1b[2J", "\x1b]0;owned\x07t", "a\u202eb", "\x9b31m", "[red]x[/red]")
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # what must never reach the terminal


def invoke(args, cwd: Path):
    import os

    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(old)


def test_printable_escapes_controls_and_keeps_text():
    assert printable("a\x1b[31mb") == "a\\x1b[31mb"
    assert printable("ok\rFAKE\x00\x7f\x9b") == "ok\\rFAKE\\x00\\x7f\\x9b"
    assert printable("a\u202eb\u2066") == "a\\u202eb\\u2066"
    assert printable("tab\tnew\nline [red]x café ∝ ≈") == "tab\tnew\nline [red]x café ∝ ≈"
    assert printable(3.5) == "3.5"


@pytest.fixture
def grouped(tmp_path):
    parts = []
    for i, cell in enumerate(CELLS):
        part = simulate(get_law("chinchilla"), TRUE, n_points=12, noise=0.005, seed=i)
        part["g"] = cell
        parts.append(part)
    pd.concat(parts).to_csv(tmp_path / "runs.csv", index=False)
    return tmp_path


def _clean(text: str, shown=(*ALL, "ok\rFAKE")) -> None:
    assert not RAW.search(text), repr(RAW.search(text).group())
    for raw in shown:
        assert printable(raw) in text, printable(raw)


def test_group_names_from_csv_cells_are_escaped_in_fit_and_predict(grouped):
    res = invoke(["fit", "chinchilla", "runs.csv", "--group-by", "g", "--bootstrap", "0", "--out", "fit.json"],
                 grouped)
    assert res.exit_code == 0, res.output
    _clean(res.stdout, ALL)
    res = invoke(["predict", "fit.json", "--at", "N=1e9", "--at", "D=2e10"], grouped)
    assert res.exit_code == 0, res.output
    _clean(res.stdout, ALL)


def test_error_lines_escape_what_came_from_data(tmp_path):
    (tmp_path / "runs.csv").write_text("n_params,n_tokens,loss\n1e8,1e9,3\n2e8,1e9,2.9\n")
    res = invoke(["fit", "chinchilla", "runs.csv", "--where", "N > 1\x1b[2J"], tmp_path)
    assert res.exit_code == 1 and len(res.stderr.splitlines()) == 1
    assert "\x1b" not in res.stderr and "\\x1b[2J" in res.stderr


def test_sweep_status_escapes_a_tampered_message(tmp_path):
    sweep = tmp_path / "sw"
    (sweep / "r1").mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"name": "sw", "source": "s.toml", "runs": [{"run_id": "r1"}]}))
    message = "RuntimeError: " + "".join(EVIL.values()) + " [red]x[/red]"
    (sweep / "r1" / "result.json").write_text(json.dumps({"run_id": "r1", "status": "failed", "loss": None,
                                                         "message": message}))
    res = invoke(["sweep-status", str(sweep)], tmp_path)
    assert res.exit_code == 0, res.output
    _clean(res.stdout)


@pytest.mark.parametrize("live", [False, True])
def test_sweep_progress_prints_run_messages_literally(capsys, live):
    from scalefit.cli.sweep_progress import SweepProgress
    from scalefit.sweeps.runner import SweepEvent

    class Run:
        run_id, n_params, n_tokens = "abc123", 1000, 2000

    progress = SweepProgress("sw", 1, live=live)
    progress(SweepEvent("plan", data={"planned": 1, "skipped": 0, "todo": 1, "estimate_s": 1.0}))
    message = "".join(EVIL.values()) + " [red]x[/red]"
    progress(SweepEvent("done", Run(), {"status": "failed", "loss": None, "message": message}, 1.0))
    progress.close()
    _clean(capsys.readouterr().err)


def test_the_cli_prints_only_through_echo():
    """One printing path: every command module prints with cli.common.echo (which escapes), never directly."""
    root = Path(__file__).resolve().parents[2] / "scalefit" / "cli"
    direct = [f"{p.name}:{i}" for p in sorted(root.glob("*.py"))
              for i, line in enumerate(p.read_text().splitlines(), 1)
              if re.search(r"\btyper\.echo\(|(?<![\w.])print\(|\.console\.print\(", line) and "printable(" not in line]
    assert direct == []


def test_error_and_warning_lines_are_escaped(capsys):
    import warnings

    import typer

    from scalefit.cli.common import handle_errors
    from scalefit.errors import RunDataError

    @handle_errors
    def warns():
        warnings.warn("column \x1b]0;owned\x07 [red]x", stacklevel=1)

    @handle_errors
    def fails():
        raise RunDataError("no column \x1b[2J\u202eb")

    warns()
    with pytest.raises(typer.Exit):
        fails()
    err = capsys.readouterr().err
    assert not RAW.search(err)
    assert "warning: column \\x1b]0;owned\\x07 [red]x" in err and "error: no column \\x1b[2J\\u202eb" in err
