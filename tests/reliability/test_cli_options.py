"""Options are never silently replaced, dropped or repeated, and out-of-range ones are one-line errors, never a
traceback (issue 28): simulate, predict, train, sweep, plot."""

from __future__ import annotations

import pytest

import scalefit
from scalefit.errors import LawError
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.reliability.conftest import TRUE
from tests.safety import refused

GOOD = "E=1.69,A=406.4,B=410.7,alpha=0.34,beta=0.28"


@pytest.mark.parametrize("args,contains", [
    (["--params", GOOD, "--noise", "nan"], "noise nan: must be a finite number >= 0"),
    (["--params", GOOD, "--noise", "-0.1"], "noise -0.1: must be a finite number >= 0"),
    (["--params", GOOD.replace("E=1.69", "E=nan")], "simulate chinchilla: E=nan must be a finite number"),
    (["--params", GOOD.replace("alpha=0.34", "alpha=-50")], "alpha=-50 is outside the law's domain for alpha, [0, 5]"),
    (["--params", GOOD.replace("E=1.69", "E=-100")], "E=-100 is outside the law's domain for E, [0, inf]"),
    (["--params", GOOD + ",Q=3"], "law 'chinchilla' has no parameter 'Q'; its parameters are ['E', 'A', 'B'"),
    (["--params", GOOD, "--seed", "-1"], "seed -1: must be a whole number from 0 to 2**63 - 1"),
    (["--params", GOOD, "--noise", "1e300"], "simulate chinchilla: the simulated L is inf"),
])
def test_simulate_refuses_what_would_write_nan_inf_or_negative_losses(tmp_path, args, contains):
    refused(["simulate", "chinchilla", *args, "--out", "s.csv"], tmp_path, contains=contains)


def test_simulate_library_checks_the_same():
    law = get_law("chinchilla")
    with pytest.raises(LawError, match="alpha=-3 is outside"):
        simulate(law, {**TRUE, "alpha": -3})
    frame = simulate(law, TRUE, n_points=10, noise=0.0)
    assert (frame["loss"] > TRUE["E"]).all()


@pytest.fixture
def fit_file(folder, fitted):
    fitted.save(folder / "fit.json")
    return folder


@pytest.mark.parametrize("args,contains", [
    (["--group", "c4", "--at", "N=1e9", "--at", "D=1e10"], "--group c4: this fit is not grouped"),
    (["--at", "N=1e9", "--at", "N=2e9", "--at", "D=1e10"], "--at N is given twice (N=1e9 and N=2e9)"),
    (["--at", "N=1e9", "--at", "C=1", "--at", "D=1e10"], "--at C: law 'chinchilla' predicts from N, D"),
])
def test_predict_options_are_never_ignored(fit_file, args, contains):
    refused(["predict", "fit.json", *args], fit_file, contains=contains)


@pytest.mark.parametrize("args", [
    ["plan", "fit.json", "--group", "c4", "--compute", "1e21"],
    ["plan", "fit.json", "--group", "c4", "--compute", "1e21", "--json"],
])
def test_group_on_an_ungrouped_fit_is_refused_by_plan_too(fit_file, args):
    # plan used to ignore it and plan the one law as if it were the group asked for
    refused(args, fit_file, contains="--group c4: this fit is not grouped")


def test_predict_from_a_derived_input_still_works(fit_file, fitted):
    import os

    from typer.testing import CliRunner

    from scalefit.cli.app import app

    cwd = os.getcwd()
    os.chdir(fit_file)
    try:
        res = CliRunner().invoke(app, ["predict", "fit.json", "--at", "N=1e9", "--at", "C=6e19", "--json",
                                       "--interval", "none"])
    finally:
        os.chdir(cwd)
    assert res.exit_code == 0, res.output
    import json

    pred = json.loads(res.stdout)["predictions"][0]["L_pred"]
    assert pred == pytest.approx(float(fitted.predict({"N": 1e9, "D": 6e19 / 6e9})[0]))


@pytest.mark.parametrize("args,contains", [
    (["--tokens", "0"], "--tokens must be a whole number of tokens >= 1, got 0"),
    (["--set", "grad_clip=nan"], "config key 'grad_clip' in --set must be a finite number, got nan"),
    (["--lr", "inf"], "config key 'lr' in options must be a finite number"),
    (["--seed", "-1"], "config key 'seed' in options must be >= 0, got -1"),
])
def test_train_refuses_before_any_work(tmp_path, args, contains):
    refused(["train", *args, "--out", "runs"], tmp_path, contains=contains)


SPECS = {
    "empty.toml": ("", "the spec sets no runs"),
    "name.toml": ('name = "x"\n', "the spec sets no runs"),
    "fixed5.toml": ("fixed = 5\n", "[fixed] must be a table of options, got 5"),
    "huge.toml": ("[fixed]\nwidth = 32\ndepth = 1\n[grid]\ntokens = [1e30]\n", "1e+30 tokens is more than a proxy run"),
    "shape1.toml": ("[fixed]\ntokens = 1e5\nshape = 1\n", "shape must be a list of [width, depth] lists"),
    "shapedict.toml": ("[fixed]\ntokens = 1e5\nshape = {a = 1}\n", "shape must be a list of [width, depth] lists"),
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_sweep_spec_refused_in_one_line(tmp_path, name):
    text, contains = SPECS[name]
    (tmp_path / name).write_text(text)
    refused(["sweep", name, "--dry-run", "--out", "sw"], tmp_path, contains=contains)


@pytest.mark.parametrize("flag,value", [("--threads", "-3"), ("--workers", "-1"), ("--runs-per-gpu", "0")])
def test_sweep_executor_counts_checked(tmp_path, flag, value):
    (tmp_path / "ok.toml").write_text("[fixed]\nwidth = 32\ndepth = 1\ntokens = 1e5\n")
    refused(["sweep", "ok.toml", "--dry-run", flag, value, "--out", "sw"], tmp_path, contains=f"{flag} must be >=")


@pytest.mark.parametrize("dpi,contains", [("0", "dpi 0: must be a whole number >= 1"),
                                          ("-5", "dpi -5: must be a whole number >= 1"),
                                          ("20000", "pixels, more than 100,000,000; use a dpi of at most")])
def test_plot_dpi_checked(fit_file, dpi, contains):
    refused(["plot", "fit.json", "--dpi", dpi, "--out", "p.png"], fit_file, contains=contains)


def test_library_seed_and_types_match_the_cli(frame):
    with pytest.raises(ValueError, match="seed -1: must be a whole number from 0"):
        scalefit.fit("chinchilla", frame, bootstrap=3, seed=-1)


def selection_file(folder, fitted):
    """A selection file (`scalefit.select/1`) whose winner is ``fitted``."""
    import json

    entry = {"law": "chinchilla", "law_options": {}, "objective": "huber", "aic": -100.0, "bic": -90.0, "n_params": 5,
             "on_bounds": [], "vanished": [], "cancelling": 1.0, "identifiability": [], "status": "ok", "r2": 0.99,
             "rmsle": 0.004, "rmse": 0.01, "mean_abs_rel_error": 0.003, "folds": [], "winner": True}
    sel = {"schema": "scalefit.select/1", "board": [entry], "along": "N", "holdout": None, "folds": [],
           "group_by": None, "objectives": ["huber"], "data": {"source": "runs.csv", "n_rows": 30, "hash": None,
                                                                 "where": None},
           "tolerance": 0.1, "metric": "rmsle", "notes": [], "fit": fitted.to_dict()}
    (folder / "sel.json").write_text(json.dumps(sel))
    return folder


@pytest.mark.parametrize("command", [["predict", "sel.json", "--at", "N=1e9", "--at", "D=1e10"],
                                     ["plan", "sel.json", "--compute", "1e22"]])
def test_a_selection_file_points_to_its_winners_fit(folder, fitted, command):
    scalefit.load(selection_file(folder, fitted) / "sel.json")  # a valid selection file
    refused(command, folder, contains="sel.json is a law selection (`scalefit select`), not a fit: "
                                      f"`scalefit {command[0]}` takes the winner's fit (the winner: chinchilla)")


def test_select_folds_zero_is_refused(folder):
    refused(["select", "runs.csv", "--candidates", "power", "--folds", "0"], folder, contains="folds")
