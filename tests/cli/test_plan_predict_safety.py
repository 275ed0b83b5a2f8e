"""`scalefit plan / predict / plot` on hostile inputs: one line on stderr, exit code 1, inputs untouched.

Every case checks: exit code 1, exactly one line on stderr, no traceback and no "internal error", the
input files byte-identical afterwards, and no file created (the commands run inside tmp_path).
"""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.fitting import FitResult, fit
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.safety import edited

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
AT = ["--at", "N=1e9", "--at", "D=2e10"]


@pytest.fixture(scope="module")
def runner():
    return CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A run log, a chinchilla fit with bootstrap (as a dict) and an lr-annealing fit (as a dict)."""
    folder = tmp_path_factory.mktemp("made")
    runs = simulate(get_law("chinchilla"), TRUE, n_points=40, noise=0.005, seed=1)
    runs.to_csv(folder / "runs.csv", index=False)
    law_fit = fit("chinchilla", runs, bootstrap=10, seed=0).to_dict()
    curve = FitResult(law="lr-annealing", law_options={"lam": 0.999}, params={"L0": 3.0, "A": 0.4, "alpha": 0.5,
                                                                              "C": 0.05},
                      stats={}, search={}, data={}).to_dict()
    return {"runs": (folder / "runs.csv").read_bytes(), "fit": law_fit, "curve": curve}


@pytest.fixture
def files(made, tmp_path, monkeypatch):
    """fit.json, curve.json and runs.csv in a fresh tmp_path, which is also the working folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "runs.csv").write_bytes(made["runs"])
    (tmp_path / "fit.json").write_text(json.dumps(made["fit"]))
    (tmp_path / "curve.json").write_text(json.dumps(made["curve"]))
    return tmp_path


def _snapshot(folder) -> dict:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def _fails(runner, folder, args, message):
    """Run ``args``; assert the one-line error containing ``message`` and that no file changed or appeared."""
    before = _snapshot(folder)
    res = runner.invoke(app, args)
    err = res.stderr
    assert res.exit_code == 1, (res.stdout, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert "Traceback" not in res.output + err and "internal error" not in err
    assert message in err, err
    assert _snapshot(folder) == before


# ---- malformed fit files through every command that reads one --------------------------------------------
BAD = {
    "list": lambda d: [d],
    "law-dict": lambda d: edited(d, "law", {"x": 1}),
    "string-param": lambda d: edited(d, "params.alpha", "0.3"),
    "null-params": lambda d: edited(d, "params", None),
    "nan-param": lambda d: edited(d, "params.E", float("nan")),
    "inf-param": lambda d: edited(d, "params.A", float("inf")),
    "missing-param": lambda d: edited(d, "params.beta", ...),
    "ragged-bootstrap": lambda d: edited(d, "bootstrap.E", d["bootstrap"]["E"][:3]),
    "text-bootstrap": lambda d: edited(d, "bootstrap.alpha", ["x"] * 10),
    "flat-bootstrap": lambda d: edited(d, "bootstrap", {"E": 1}),
    "groups-list": lambda d: edited(d, "groups", [1, 2]),
    "hostile-where": lambda d: edited(d, "data.where", "@pd.io.common.os.system('touch pwned') == 0"),
}
MESSAGES = {
    "list": "expected a JSON object", "law-dict": "law: expected a string", "string-param": "params.alpha",
    "null-params": "params: expected an object, got null", "nan-param": "params.E: expected a finite number",
    "inf-param": "params.A: expected a finite number", "missing-param": "missing parameter 'beta'",
    "ragged-bootstrap": "same non-zero number of bootstrap samples", "text-bootstrap": "bootstrap.alpha[0]",
    "flat-bootstrap": "missing bootstrap samples", "groups-list": "groups: expected an object",
    "hostile-where": "data.where: unsafe filter",
}
RAW = {
    "deep": b"[" * 100_000 + b"]" * 100_000,
    "binary": b"\x89PNG\r\n\x1a\n\x00\xff\xfe",
    "empty": b"",
    "not-json": b"fit: chinchilla\n",
}
RAW_MESSAGES = {"deep": "nested more than 64 levels", "binary": "not UTF-8 text", "empty": "is empty",
                "not-json": "not valid JSON"}
COMMANDS = {
    "predict": ["predict", "bad.json", *AT],
    "plan": ["plan", "bad.json", "--compute", "1e22"],
    "plot": ["plot", "bad.json", "--out", "fig.png"],
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(BAD))
def test_malformed_fit_file(runner, made, files, command, case):
    (files / "bad.json").write_text(json.dumps(BAD[case](made["fit"])))
    _fails(runner, files, COMMANDS[command], MESSAGES[case])
    assert not (files / "pwned").exists()


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(RAW))
def test_unreadable_fit_file(runner, files, command, case):
    (files / "bad.json").write_bytes(RAW[case])
    _fails(runner, files, COMMANDS[command], RAW_MESSAGES[case])


def test_plan_names_the_missing_parameter(runner, made, files):
    (files / "bad.json").write_text(json.dumps(edited(made["fit"], "params.alpha", ...)))
    _fails(runner, files, ["plan", "bad.json", "--compute", "1e22"], "params: missing parameter 'alpha'")


# ---- planning inputs ---------------------------------------------------------------------------------------
PLAN_INPUTS = [
    (["--compute=-1"], "--compute -1"), (["--compute", "0"], "--compute 0"), (["--compute", "nan"], "--compute nan"),
    (["--compute", "inf"], "--compute inf"), (["--compute", "1e400"], "--compute inf"),
    (["--compute", "1e22", "--compute", "nan"], "--compute nan"),
    (["--compute", "1e22", "--overtrain", "nan"], "--overtrain nan"),
    (["--compute", "1e22", "--overtrain", "2,-4"], "--overtrain -4"),
    (["--compute", "1e22", "--overtrain", "inf"], "--overtrain inf"),
    (["--compute", "1e22", "--level", "1.5"], "--level 1.5"), (["--compute", "1e22", "--level", "nan"], "--level nan"),
    (["--compute", "1e22", "--level", "0"], "--level 0"),
]


@pytest.mark.parametrize(("args", "message"), PLAN_INPUTS, ids=[" ".join(a) for a, _ in PLAN_INPUTS])
def test_plan_refuses_non_finite_or_non_positive_compute(runner, files, args, message):
    _fails(runner, files, ["plan", "fit.json", *args], message)


SCHEDULE_INPUTS = [
    (["--steps", "0", "--peak-lr", "1e-3"], "--steps 0"), (["--steps=-5", "--peak-lr", "1e-3"], "--steps -5"),
    (["--steps", "100", "--peak-lr", "nan"], "--peak-lr nan"),
    (["--steps", "100", "--peak-lr", "inf"], "--peak-lr inf"),
    (["--steps", "100", "--peak-lr=-1"], "--peak-lr -1"),
    (["--steps", "100", "--peak-lr", "1e-3", "--warmup-frac", "nan"], "--warmup-frac nan"),
    (["--steps", "100", "--peak-lr", "1e-3", "--min-lr-ratio", "2"], "--min-lr-ratio 2"),
    (["--steps", "100", "--peak-lr", "1e-3", "--decay-fracs", "0.1,inf"], "--decay-fracs inf"),
    (["--steps", "100", "--peak-lr", "1e-3", "--level", "1"], "--level 1"),
]


@pytest.mark.parametrize(("args", "message"), SCHEDULE_INPUTS, ids=[" ".join(a) for a, _ in SCHEDULE_INPUTS])
def test_compare_schedules_refuses_bad_numbers(runner, files, args, message):
    _fails(runner, files, ["plan", "curve.json", "--compare-schedules", *args], message)


def test_plan_good_inputs_still_work(runner, files):
    res = runner.invoke(app, ["plan", "fit.json", "--compute", "1e22", "--overtrain", "2", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["compute_optimal"][0]
    assert row["N_opt_lower"] < row["N_opt"] < row["N_opt_upper"]
    res = runner.invoke(app, ["plan", "curve.json", "--compare-schedules", "--steps", "1000", "--peak-lr", "1e-3"])
    assert res.exit_code == 0 and "best:" in res.stdout


@pytest.fixture(scope="module")
def hparams_json(tmp_path_factory):
    from scalefit.planning.hparams import fit_hparams
    from tests.planning.test_hparams import SEQ, runs

    path = tmp_path_factory.mktemp("hp") / "hp.json"
    fit_hparams(runs(), target="smooth loss", seq_len=SEQ, fit_on="optimum", loo=False).save(path)
    return path.read_bytes()


HPARAM_INPUTS = [
    (["--n-params", "nan", "--n-tokens", "2e10"], "--n-params nan"),
    (["--n-params=-1", "--n-tokens", "2e10"], "--n-params -1"),
    (["--n-params", "1e9", "--n-tokens", "inf"], "--n-tokens inf"),
    (["--n-params", "1e9", "--n-tokens", "0"], "--n-tokens 0"),
    (["--n-params", "1e9", "--n-tokens", "2e10", "--lr", "nan"], "--lr nan"),
    (["--n-params", "1e9", "--n-tokens", "2e10", "--batch-size=-8"], "--batch-size -8"),
]


@pytest.mark.parametrize(("args", "message"), HPARAM_INPUTS, ids=[" ".join(a) for a, _ in HPARAM_INPUTS])
def test_hparams_plan_refuses_bad_sizes(runner, files, hparams_json, args, message):
    (files / "hp.json").write_bytes(hparams_json)
    _fails(runner, files, ["plan", "hp.json", *args], message)


# ---- outputs never replace inputs --------------------------------------------------------------------------
def test_predict_output_onto_the_fit_file(runner, files):
    _fails(runner, files, ["predict", "fit.json", *AT, "--out", "fit.json"], "--out 'fit.json' is the input")


def test_predict_output_through_a_symlink_and_a_hard_link(runner, files):
    os.symlink("fit.json", files / "alias.json")
    _fails(runner, files, ["predict", "fit.json", *AT, "--out", "alias.json"], "is the input 'fit.json'")
    os.link(files / "fit.json", files / "hard.json")
    _fails(runner, files, ["predict", "fit.json", *AT, "--out", "hard.json"], "is the input 'fit.json'")


def test_predict_output_onto_the_points_file(runner, files):
    (files / "points.csv").write_text("N,D\n1e9,2e10\n")
    _fails(runner, files, ["predict", "fit.json", "--input", "points.csv", "--out", "points.csv"],
           "--out 'points.csv' is the input")


def test_predict_output_onto_the_chain_or_schedule_file(runner, files):
    (files / "chain.json").write_text((files / "fit.json").read_text())
    _fails(runner, files, ["predict", "fit.json", *AT, "--chain", "chain.json", "--out", "chain.json"],
           "--out 'chain.json' is the input")
    (files / "sched.csv").write_text("step,lr\n1,0.001\n2,0.001\n")
    _fails(runner, files, ["predict", "curve.json", "--schedule-csv", "sched.csv", "--out", "sched.csv"],
           "--out 'sched.csv' is the input")


def test_predict_refuses_a_bad_level(runner, files):
    _fails(runner, files, ["predict", "fit.json", *AT, "--level", "nan"], "--level nan")


def test_plan_from_a_frontier_fit_refuses_bad_compute(runner, files):
    envelope = {"schema": "scalefit.envelope/1", "method": "envelope", "a": 0.5, "k_N": 0.1, "b": 0.5, "k_D": 1.6,
                "points": [{"C": 1e18, "N_opt": 1e7, "D_opt": 1.6e10, "L_opt": 3.0, "n_covering": 3}],
                "data": {"source": "x.csv", "n_rows": 9}}
    (files / "env.json").write_text(json.dumps(envelope))
    _fails(runner, files, ["plan", "env.json", "--compute", "nan"], "--compute nan")
    (files / "env.json").write_text(json.dumps({**envelope, "k_N": None}))
    _fails(runner, files, ["plan", "env.json", "--compute", "1e22"], "k_N: expected a number, got null")


@pytest.mark.parametrize(("args", "message"), [
    (["--runs", "runs.csv", "--out", "runs.csv"], "--out 'runs.csv' is the input"),
    (["--out", "fit.json"], "--out 'fit.json' is the input"),
    (["--out", "."], "is a folder"),
])
def test_plot_out_onto_an_input(runner, files, args, message):
    _fails(runner, files, ["plot", "fit.json", *args], message)


# ---- identifiability through the CLI -----------------------------------------------------------------------
def test_fit_of_identical_rows_warns_on_stderr(runner, files):
    (files / "same.csv").write_text("n_params,n_tokens,loss\n" + "1e9,2e10,2.5\n" * 20)
    res = runner.invoke(app, ["fit", "chinchilla", "same.csv", "--json"])
    assert res.exit_code == 0, res.output
    assert "warning: all 20 rows have the same inputs" in res.stderr
    assert json.loads(res.stdout)["identifiability"][0]["check"] == "identical-rows"
