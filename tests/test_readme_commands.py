"""Every README command that needs no GPU and no long training runs, as a user's fresh clone would run it.

The README's ```bash blocks are read line by line (continuations joined, `&&` chains split, `R=...` variables
substituted, comments dropped) and each `scalefit` command runs in README order in a scratch copy of the
repository's run logs, so commands that read what an earlier one wrote (fit.json, then plot) work as in a
shell, and nothing is written into the checkout. Reduced form: `--bootstrap N` runs 20 resamples. Left out,
and why: installs (`pip`), benchmarks (`python benchmarks/...`, minutes each), proxy training (`train`, and
`sweep` except `--list`, `--dry-run`, `--show-spec`), and the generic `runs.csv` examples get a synthetic
run log with the columns they name.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

REPO = Path(__file__).resolve().parents[1]
TRAINS = ("train", "sweep")
SWEEP_READ_ONLY = ("--list", "--dry-run", "--show-spec")


def readme_commands() -> list[tuple[int, str]]:
    """(line number, command) for every shell command in the README's bash blocks, in order."""
    lines = (REPO / "README.md").read_text().splitlines()
    out, inside, pending, start, variables = [], False, "", 0, {}
    for no, line in enumerate(lines, 1):
        if line.startswith("```"):
            inside = line.strip() == "```bash"
            continue
        if not inside:
            continue
        text = line.split(" #")[0].rstrip() if not line.lstrip().startswith("#") else ""
        if not pending:
            start = no
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        text, pending = pending + text, ""
        if not text.strip():
            continue
        if m := re.fullmatch(r"\s*([A-Z_]+)=(\S+)\s*", text):
            variables[m.group(1)] = m.group(2)
            continue
        for name, value in variables.items():
            text = text.replace(f"${name}", value)
        out += [(start, part.strip()) for part in text.split("&&")]
    return out


def _words(command: str) -> tuple[list[str], str | None]:
    """The command's words and the file its stdout is redirected to (``> FILE``), if any."""
    words = shlex.split(command)
    if ">" in words:
        i = words.index(">")
        return words[:i], words[i + 1]
    return words, None


def runnable(command: str) -> bool:
    words, _ = _words(command)
    if not words or words[0] != "scalefit":
        return False
    if words[1] in TRAINS:
        return words[1] == "sweep" and any(w in SWEEP_READ_ONLY for w in words)
    return True


def _reduced(words: list[str]) -> list[str]:
    return [("20" if i > 0 and words[i - 1] == "--bootstrap" else w) for i, w in enumerate(words)]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory):
    """A scratch folder like a fresh clone's root: the committed run logs, empty figures/, example inputs."""
    import pandas as pd

    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate

    root = tmp_path_factory.mktemp("clone")
    shutil.copytree(REPO / "runs", root / "runs")
    (root / "figures").mkdir()
    frame = simulate(get_law("chinchilla"), {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
                     n_points=60, noise=0.005, seed=0)
    frame["n_params_nonembed"] = frame["n_params"] * 0.9
    frame["dataset"] = ["c4", "rpj"] * 30
    frame["loss_wiki"] = frame["loss"] * 1.1  # a second loss column (--target-glob 'loss*')
    frame.to_csv(root / "runs.csv", index=False)
    pd.DataFrame({"N": [7e10, 1e9], "D": [1.4e12, 2e10]}).to_csv(root / "points.csv", index=False)
    return root




def _run(workdir: Path, command: str) -> tuple[int, str]:
    """(exit code, output) of one README command run in ``workdir``, as a shell in the clone's root would."""
    words, redirect = _words(command)
    cwd = os.getcwd()
    os.chdir(workdir)
    try:
        res = CliRunner().invoke(app, _reduced(words)[1:])
        if redirect:
            (workdir / redirect).write_text(res.stdout)
    finally:
        os.chdir(cwd)
    return res.exit_code, res.output + res.stderr


COMMANDS = [(n, c) for n, c in readme_commands() if runnable(c)]


def test_the_readme_has_commands_to_run():
    assert len(COMMANDS) >= 25, COMMANDS


def test_every_readme_command_runs(workdir):
    """Every command, in README order, in one scratch clone (a command reads what an earlier one wrote): one test,
    so that the sequence runs once on one worker (as parametrized tests over a shared fixture, pytest-xdist ran it
    on both workers in the full suite, twice the ~90 s); the failure lists every failing command with its output."""
    failed = []
    for line, command in COMMANDS:
        code, output = _run(workdir, command)
        if code != 0:
            failed.append(f"README line {line} (exit {code}): {command}\n{output}")
    assert not failed, f"{len(failed)} of {len(COMMANDS)} README commands failed:\n\n" + "\n\n".join(failed)
