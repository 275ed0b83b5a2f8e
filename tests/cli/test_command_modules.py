"""`scalefit CMD` imports only CMD's module (scalefit.cli.app.COMMAND_MODULES); the table must name every
registered command and its real module, and each command must run with nothing but its own module loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from scalefit.cli.app import COMMAND_MODULES, command_of, load_commands


def _registered() -> dict[str, str]:
    app = load_commands()
    return {c.name: c.callback.__module__ for c in app.registered_commands}


def test_the_table_names_every_command_and_its_module():
    assert {name: f"scalefit.cli.{module}" for name, module in COMMAND_MODULES.items()} == _registered()


@pytest.mark.parametrize(("argv", "command"), [
    (["laws"], "laws"), (["laws", "chinchilla", "--json"], "laws"), (["fit", "--help"], "fit"),
    (["sweep", "status", "DIR"], "sweep-status"),  # the old spelling resolves as the group resolves it
    (["sweep", "spec.toml"], "sweep"), (["coord-check"], "coord-check"),
    ([], None), (["--help"], None), (["-h"], None), (["--version"], None), (["lwas"], None),  # the whole app
])
def test_command_of(argv, command):
    assert command_of(argv) == command


def test_completion_loads_every_command(monkeypatch):
    monkeypatch.setenv("_SCALEFIT_COMPLETE", "complete_bash")
    assert command_of(["laws"]) is None


def _main(*args: str) -> subprocess.CompletedProcess:
    code = ("import sys\nfrom scalefit.cli.app import main\n"
            f"sys.argv = ['scalefit', *{list(args)!r}]\nmain()")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)


@pytest.mark.parametrize("command", sorted(COMMAND_MODULES))
def test_each_command_runs_with_only_its_module(command):
    res = _main(command, "--help")
    assert res.returncode == 0 and f"scalefit {command}" in res.stdout, res.stderr


def test_fit_finds_the_procedures_it_did_not_import_up_front():
    res = _main("fit", "isoflop", "dataset:epoch-chinchilla", "--where", "loss < 3.44", "--json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["schema"] == "scalefit.isoflop/1"


def test_a_typo_lists_the_commands_like_before():
    res = _main("lwas")
    assert res.returncode == 2 and "No such command 'lwas'. Did you mean 'laws'?" in res.stderr, res.stderr
