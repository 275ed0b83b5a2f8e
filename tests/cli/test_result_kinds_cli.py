"""`predict` and `plan` take any result file and choose by its kind; options of another kind are refused in one
line; grouped fits are planned per group; backtest --group-by; --map for predict --input and plot --runs."""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.fitting import FitResult
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.planning.test_lr_transfer import sweep

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
runner = CliRunner()


def one_line_error(res, *messages: str) -> str:
    assert res.exit_code == 1, (res.stdout, res.stderr)
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert "Traceback" not in res.output + res.stderr and "internal error" not in res.stderr
    for m in messages:
        assert m in lines[0], lines[0]
    return lines[0]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """Every kind of result file: law (grouped too), isoflop frontier, hyperparameter, LR-transfer, curve."""
    from scalefit.planning.hparams import fit_hparams
    from tests.planning.test_hparams import SEQ, runs

    d = tmp_path_factory.mktemp("kinds")
    law = get_law("chinchilla")
    one = simulate(law, TRUE, n_points=40, noise=0.005, seed=1)
    two = pd.concat([one.assign(dataset="a"), simulate(law, {**TRUE, "E": 2.0}, n_points=40, noise=0.005,
                                                             seed=2).assign(dataset="b")], ignore_index=True)
    one.to_csv(d / "runs.csv", index=False)
    two.to_csv(d / "two.csv", index=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scalefit.fit("chinchilla", one, bootstrap=10).save(d / "fit.json")
        scalefit.fit("chinchilla", two, group_by="dataset", bootstrap=10).save(d / "grouped.json")
        scalefit.fit("isoflop", "runs/chinchilla-cpu/runs.csv", bootstrap=10).save(d / "iso.json")
        fit_hparams(runs(noise=0.0005, seed=2), target="smooth loss", seq_len=SEQ, fit_on="optimum", loo=False,
                    bootstrap=10).save(d / "hp.json")
        scalefit.fit("lr-transfer", sweep(), bootstrap=10).save(d / "lrt.json")
    FitResult(law="lr-annealing", law_options={"lam": 0.999}, params={"L0": 3.0, "A": 0.4, "alpha": 0.5, "C": 0.05},
              stats={}, search={}, data={}).save(d / "curve.json")
    return d


# ---- 3. plan: the mode follows from the file; options of another mode are refused ------------------------
def test_the_reported_plan_is_refused(made):
    res = invoke("plan", made / "hp.json", "--n-params", "1e9", "--n-tokens", "1e11", "--compute", "1e22",
                 "--overtrain", "2")
    one_line_error(res, "--compute applies to law and frontier", "hp.json is a hyperparameter fit",
                   "use --n-params N --n-tokens D")


REFUSED = [
    ("fit.json", ["--compute", "1e22", "--n-params", "1e9"], "--n-params applies to hyperparameter fits"),
    ("fit.json", ["--compute", "1e22", "--steps", "100"], "--steps applies to lr-annealing fits"),
    ("fit.json", ["--compare-schedules"], "fit.json is a law fit (chinchilla)"),
    ("iso.json", ["--compute", "1e22", "--overtrain", "2"], "--overtrain needs a fitted loss law (a law fit such as "
                                                            "chinchilla or overtrain); iso.json is an isoflop "
                                                            "frontier: use --compute FLOPS"),
    ("iso.json", ["--compute", "1e22", "--group", "a"], "--group applies to law and lr-annealing fits"),
    ("curve.json", ["--compute", "1e22"], "curve.json is a loss-curve fit (lr-annealing): use --compare-schedules"),
    ("hp.json", ["--n-params", "1e9", "--n-tokens", "1e11", "--group", "a"], "--group applies to law and"),
    ("hp.json", ["--n-params", "1e9", "--n-tokens", "1e11", "--warmup-frac", "0.1"], "--warmup-frac applies"),
    ("lrt.json", ["--compute", "1e22"], "`scalefit plan` does not apply to an LR-transfer fit (lrt.json)"),
    ("fit.json", [], "give a compute budget with --compute FLOPS"),
    ("hp.json", ["--n-params", "1e9"], "--n-tokens D"),
]


@pytest.mark.parametrize(("name", "args", "message"), REFUSED, ids=[f"{n} {' '.join(a)}" for n, a, _ in REFUSED])
def test_plan_refuses_options_of_another_kind(made, name, args, message):
    one_line_error(invoke("plan", made / name, *args), message)


def test_plan_runs_each_mode(made):
    res = invoke("plan", made / "fit.json", "--compute", "1e22", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["compute_optimal"][0]["C"] == 1e22
    res = invoke("plan", made / "iso.json", "--compute", "1e14", "--json")
    assert res.exit_code == 0 and json.loads(res.stdout)["method"] == "isoflop"
    res = invoke("plan", made / "hp.json", "--n-params", "6e8", "--n-tokens", "3e10", "--json")
    assert res.exit_code == 0 and "lr" in json.loads(res.stdout)
    res = invoke("plan", made / "curve.json", "--steps", "1000", "--peak-lr", "1e-3")  # --compare-schedules optional
    assert res.exit_code == 0 and "best:" in res.stdout


# ---- 4. plan does every group of a grouped fit unless --group picks one ----------------------------------
def test_plan_of_a_grouped_fit_does_every_group(made):
    res = invoke("plan", made / "grouped.json", "--compute", "1e22", "--overtrain", "2")
    assert res.exit_code == 0, res.output
    assert "dataset = a" in res.stdout and "dataset = b" in res.stdout
    assert res.stdout.count("tokens per parameter") == 2 and res.stdout.count("over-trained alternatives") == 2
    data = json.loads(invoke("plan", made / "grouped.json", "--compute", "1e22", "--json").stdout)
    assert data["group_by"] == "dataset" and set(data["groups"]) == {"a", "b"}
    a, b = (data["groups"][g]["compute_optimal"][0]["loss_opt"] for g in "ab")
    assert b > a  # group b has the higher irreducible loss
    one = json.loads(invoke("plan", made / "grouped.json", "--compute", "1e22", "--group", "b", "--json").stdout)
    assert "groups" not in one and one["compute_optimal"][0]["loss_opt"] == pytest.approx(b)
    one_line_error(invoke("plan", made / "grouped.json", "--compute", "1e22", "--group", "z"), "z")


# ---- 8. predict takes every kind of result --------------------------------------------------------------
def test_predict_a_frontier(made):
    res = invoke("predict", made / "iso.json", "--at", "C=1e13,1e14", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["predictions"]
    assert [r["C"] for r in rows] == [1e13, 1e14]
    assert all(r["N_opt_lower"] <= r["N_opt"] <= r["N_opt_upper"] and r["D_opt"] > 0 for r in rows)
    assert rows[0]["tokens_per_param"] == pytest.approx(rows[0]["D_opt"] / rows[0]["N_opt"])


def test_predict_a_hyperparameter_fit(made):
    res = invoke("predict", made / "hp.json", "--at", "N=6e8", "--at", "D=3e10", "--json")
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)["predictions"][0]
    plan = json.loads(invoke("plan", made / "hp.json", "--n-params", "6e8", "--n-tokens", "3e10", "--json").stdout)
    assert row["lr_pred"] == pytest.approx(plan["lr"]["value"]) and row["B_pred"] == pytest.approx(plan["B"]["value"])
    assert row["lr_lower"] <= row["lr_pred"] <= row["lr_upper"] and row["lr_lower"] < row["lr_upper"]


def test_predict_an_lr_transfer_fit(made):
    res = invoke("predict", made / "lrt.json", "--at", "width=128,1024", "--json")
    assert res.exit_code == 0, res.output
    sp, mup = ([r[f"lr_opt_{k}"] for r in json.loads(res.stdout)["predictions"]] for k in ("sp", "mup"))
    assert sp[1] < sp[0] / 4 and mup[1] == pytest.approx(mup[0], rel=0.5)  # SP shifts with width, muP transfers


PREDICT_REFUSED = [
    ("iso.json", ["--at", "C=1e13", "--group", "a"], "--group applies to law and lr-annealing fits; iso.json"),
    ("iso.json", ["--at", "C=1e13", "--chain", "fit.json"], "--chain applies"),
    ("hp.json", ["--at", "N=1e9", "--at", "D=1e11", "--schedule", "wsd"], "--schedule applies to lr-annealing"),
    ("lrt.json", ["--at", "width=1024", "--level", "0.9"], "lrt.json is an LR-transfer fit: use --at width=W"),
    ("fit.json", ["--at", "N=1e9", "--at", "D=1e10", "--steps", "10"], "--steps applies to lr-annealing fits"),
    ("iso.json", ["--at", "N=1e9"], "missing columns for C"),
    ("hp.json", ["--at", "N=1e9"], "missing columns for D"),
]


@pytest.mark.parametrize(("name", "args", "message"), PREDICT_REFUSED,
                         ids=[f"{n} {' '.join(a)}" for n, a, _ in PREDICT_REFUSED])
def test_predict_refuses_what_does_not_apply(made, name, args, message):
    one_line_error(invoke("predict", made / name, *args), message)


# ---- 7. --map for predict --input and plot --runs --------------------------------------------------------
def test_predict_input_with_map(made, tmp_path):
    pts = tmp_path / "pts.csv"
    pd.DataFrame({"size": [1e9, 7e10], "toks": [2e10, 1.4e12]}).to_csv(pts, index=False)
    res = invoke("predict", made / "fit.json", "--input", pts, "--map", "N=size", "--map", "D=toks", "--json")
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["predictions"]
    assert list(rows[0])[:2] == ["size", "toks"]  # the input columns, as given
    at = json.loads(invoke("predict", made / "fit.json", "--at", "N=1e9,7e10", "--at", "D=2e10,1.4e12",
                           "--json").stdout)["predictions"]
    assert [r["L_pred"] for r in rows] == pytest.approx([r["L_pred"] for r in at])
    one_line_error(invoke("predict", made / "fit.json", "--input", pts), "--map SYMBOL=COLUMN")
    one_line_error(invoke("predict", made / "fit.json", "--input", pts, "--map", "N=nope", "--map", "D=toks"),
                   "--map N=nope: no column 'nope'")
    one_line_error(invoke("predict", made / "fit.json", "--at", "N=1e9", "--map", "D=toks"), "--map says which column")
    iso = json.loads(invoke("predict", made / "iso.json", "--input", pts, "--map", "C=size", "--json").stdout)
    assert iso["predictions"][0]["C"] == 1e9 and iso["predictions"][0]["N_opt"] > 0


def test_plot_runs_with_map(made, tmp_path):
    runs = tmp_path / "renamed.csv"
    pd.read_csv(made / "runs.csv").rename(columns={"n_params": "size", "n_tokens": "toks"}).to_csv(runs, index=False)
    fig = tmp_path / "fig.png"
    one_line_error(invoke("plot", made / "fit.json", "--runs", runs, "--out", fig), "--map SYMBOL=COLUMN")
    res = invoke("plot", made / "fit.json", "--runs", runs, "--map", "N=size", "--map", "D=toks", "--out", fig)
    assert res.exit_code == 0, res.output
    assert fig.stat().st_size > 1000
    one_line_error(invoke("plot", made / "fit.json", "--map", "N=size", "--out", fig), "give --runs")


# ---- 6. backtest --group-by: one holdout error per group -------------------------------------------------
def test_backtest_per_group(made, tmp_path):
    runs = tmp_path / "three.csv"
    extra = pd.read_csv(made / "runs.csv").head(6).assign(dataset="c", n_params=1e6)  # never held out
    pd.concat([pd.read_csv(made / "two.csv"), extra]).to_csv(runs, index=False)
    out = tmp_path / "bt.csv"
    res = invoke("backtest", "chinchilla", runs, "--holdout", "N >= 5e9", "--group-by", "dataset", "--json",
                 "--out", out)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["group_by"] == "dataset" and set(data["groups"]) == {"a", "b"}
    assert all(g["mean_abs_rel_error"] < 0.02 and g["n_holdout"] > 0 for g in data["groups"].values())
    assert "warning: group dataset = c: --holdout holds out 0 of its 6 rows; skipped" in res.stderr
    rows = pd.read_csv(out)
    assert set(rows["dataset"]) == {"a", "b"} and len(rows) == sum(g["n_holdout"] for g in data["groups"].values())
    text = invoke("backtest", "chinchilla", runs, "--holdout", "N >= 5e9", "--group-by", "dataset").stdout
    assert text.count("mean |relative error|") == 2 and "[dataset = b]" in text
    one_line_error(invoke("backtest", "chinchilla", runs, "--holdout", "N >= 5e9", "--group-by", "nope"),
                   "--group-by 'nope' is not a column")
    res = invoke("backtest", "chinchilla", runs, "--holdout", "N > 0", "--group-by", "dataset")  # all held out
    assert res.exit_code == 1 and "error: --holdout 'N > 0' leaves no group" in res.stderr
    assert "Traceback" not in res.output and len(res.stderr.strip().splitlines()) == 1  # a failure: one line only
