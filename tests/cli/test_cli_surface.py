"""The CLI's surface is consistent: one name for the output option, short flags that mean one thing,
`sweep-status` a real command, shell completion, plain metavars, options declared once."""

from __future__ import annotations

import re

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
runner = CliRunner()


def commands() -> dict:
    """Command path -> click command, walking the whole Typer/click tree."""
    root = typer.main.get_command(app)
    out, todo = {}, [("scalefit", root)]
    while todo:
        path, cmd = todo.pop()
        out[path] = cmd
        todo += [(f"{path} {name}", sub) for name, sub in (getattr(cmd, "commands", None) or {}).items()]
    return out


def options(cmd) -> list:
    return [p for p in cmd.params if getattr(p, "opts", None) and p.opts[0].startswith("-")]


def one_line_error(res, message: str) -> None:
    assert res.exit_code == 1, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], res.stderr
    assert "Traceback" not in res.output + res.stderr and "internal error" not in res.stderr


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("surface")
    runs = folder / "runs.csv"
    simulate(get_law("chinchilla"), TRUE, n_points=40, noise=0.005, seed=1).to_csv(runs, index=False)
    fit = folder / "fit.json"
    assert runner.invoke(app, ["fit", "chinchilla", str(runs), "-o", str(fit)]).exit_code == 0
    return folder, runs, fit


# ---- 1. --out is the output option of every command; --output a hidden alias for a release ---------------
def test_no_command_shows_output_and_every_writer_has_out():
    for path, cmd in commands().items():
        names = {o for p in options(cmd) if not p.hidden for o in p.opts}
        assert "--output" not in names, path
    writers = {"fit", "predict", "backtest", "plot", "simulate", "sweep", "train"}
    for name in writers:
        cmd = commands()[f"scalefit {name}"]
        assert any({"--out", "-o"} <= set(p.opts) for p in options(cmd)), name


@pytest.mark.parametrize("command", ["predict", "backtest"])
def test_output_still_works_with_a_note(files, tmp_path, command):
    _, runs, fit = files
    out = tmp_path / "o.csv"
    args = (["predict", str(fit), "--at", "N=1e9", "--at", "D=2e10"] if command == "predict"
            else ["backtest", "chinchilla", str(runs), "--holdout", "N >= 5e9"])
    res = runner.invoke(app, [*args, "--output", str(out)])
    assert res.exit_code == 0, res.output
    assert out.exists() and "note: --output is now --out" in res.stderr
    res = runner.invoke(app, [*args, "--output", str(out), "--out", str(tmp_path / "b.csv")])
    one_line_error(res, "--output is the old name of --out; give --out only")
    res = runner.invoke(app, [*args, "--output", str(runs if command == "backtest" else fit)])
    assert res.exit_code == 1 and "--output '" in res.stderr and "is the input" in res.stderr


# ---- 2. a short flag means one thing across commands ----------------------------------------------------
def test_every_short_flag_means_one_option():
    meaning: dict[str, set] = {}
    for cmd in commands().values():
        for p in options(cmd):
            longs = sorted(o for o in p.opts if o.startswith("--"))
            for short in (o for o in p.opts if not o.startswith("--")):
                meaning.setdefault(short, set()).add(longs[0] if longs else p.name)
    clashes = {s: m for s, m in meaning.items() if len(m) > 1}
    assert not clashes, clashes
    assert meaning["-p"] == {"--parametrization"} and meaning["-o"] == {"--out"} and meaning["-s"] == {"--set"}


def test_the_short_flags_are_documented_in_the_root_help():
    text = runner.invoke(app, ["--help"], env={"COLUMNS": "200"}).output
    assert "-p --parametrization" in text and "-o --out" in text


def usage_error(args: list[str], message: str) -> None:
    """A usage error of the installed command (main()): exit 2, one line naming the --help to read."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", "from scalefit.cli.app import main; main()", *args],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 2, res.stderr
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "--help" in lines[0], res.stderr


def test_sweep_has_no_p_flag():
    usage_error(["sweep", "-p", "chinchilla-cpu", "--dry-run"], "No such option: -p")
    res = runner.invoke(app, ["sweep", "--preset", "chinchilla-cpu", "--dry-run"])
    assert res.exit_code == 0 and "56 runs" in res.output


# ---- 5. sweep-status is a real command with its own help ------------------------------------------------
def test_sweep_status_has_its_own_help():
    res = runner.invoke(app, ["sweep-status", "--help"])
    assert res.exit_code == 0 and "Summarise a sweep folder" in res.output and "--preset" not in res.output
    res = runner.invoke(app, ["sweep", "status", "--help"])  # the old spelling routes to it, with a note
    assert res.exit_code == 0 and "Summarise a sweep folder" in res.output
    assert "`scalefit sweep status` is now `scalefit sweep-status`" in res.stderr


def test_sweep_status_errors_are_one_line(tmp_path):
    one_line_error(runner.invoke(app, ["sweep-status", str(tmp_path / "none")]), "is not a sweep folder")
    usage_error(["sweep-status"], "Missing argument 'DIR'")


def test_sweep_status_reads_a_committed_sweep():
    res = runner.invoke(app, ["sweep-status", "runs/chinchilla-cpu"])
    assert res.exit_code == 0 and "56 runs planned: 56 ok" in res.output
    res = runner.invoke(app, ["sweep", "status", "runs/chinchilla-cpu"])
    assert res.exit_code == 0 and "56 runs planned" in res.output and res.stderr.startswith("note: ")


# ---- 9. completion and plain metavars --------------------------------------------------------------------
def test_completion_is_on(monkeypatch):
    import typer.completion

    names = {o for p in options(commands()["scalefit"]) for o in p.opts}
    assert {"--install-completion", "--show-completion"} <= names
    # typer detects the shell from this process's ancestors (shellingham): a test run with none (a detached CI job)
    # would get "Shell  not supported", so the shell is given
    monkeypatch.setattr(typer.completion, "_get_shell_name", lambda: "bash")
    res = runner.invoke(app, ["--show-completion"])
    assert res.exit_code == 0 and "_SCALEFIT_COMPLETE=complete_bash" in res.output, (res.output, res.exception)


@pytest.mark.parametrize("path", sorted(commands()))
def test_help_shows_plain_metavars(path):
    res = runner.invoke(app, [*path.split()[1:], "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert not re.search(r"<(bool|str|int|float|path|list\[)", res.output), res.output


def test_flags_show_no_metavar_and_values_a_plain_one():
    text = runner.invoke(app, ["fit", "--help"], env={"COLUMNS": "200"}).output
    assert re.search(r"--json\s+Machine-readable", text)  # a flag: no metavar
    assert re.search(r"--map\s+SYMBOL=COLUMN", text) and re.search(r"--bootstrap\s+INTEGER", text)
    assert re.search(r"--delta\s+FLOAT", text) and re.search(r"--out\s+-o\s+PATH", text)
    assert re.search(r"RUNS\s+PATH", text)


# ---- 6. fit and backtest share their options ----------------------------------------------------------
def test_backtest_takes_every_fitting_option_of_fit():
    from dataclasses import fields

    from scalefit.cli.fit_cmd import FitOptions

    shared = {f.metadata["option"].param_decls[0] for f in fields(FitOptions)}
    for name in ("fit", "backtest"):
        have = {o for p in options(commands()[f"scalefit {name}"]) for o in p.opts}
        assert shared <= have, (name, shared - have)
    assert "--group-by" in shared


def test_train_options_still_reach_the_config(tmp_path):
    pytest.importorskip("torch")
    res = runner.invoke(app, ["train", "--corpus", "pydoc", "--width", "16", "--depth", "1", "--heads", "2",
                              "--seq-len", "16", "--batch-size", "4", "--tokens", "512", "-p", "mup",
                              "--base-width", "16", "--device", "cpu", "-o", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    assert '"parametrization": "mup"' in res.output and '"n_tokens": 512' in res.output
    one_line_error(runner.invoke(app, ["train", "--tokens", "1.5", "-o", str(tmp_path)]), "whole number of tokens")


def test_simulate_takes_o(tmp_path):
    out = tmp_path / "s.csv"
    res = runner.invoke(app, ["simulate", "chinchilla", "--params", "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28",
                              "--points", "10", "-o", str(out)])
    assert res.exit_code == 0 and len(pd.read_csv(out)) == 10
