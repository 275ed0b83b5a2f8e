"""`scalefit fit ladder`, then `predict` and `plot` on the ladder file; one-line errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    import bench_ladder
finally:
    sys.path.pop(0)

runner = CliRunner()
ANCHOR: list[str] = []  # the default: anchored at (L=0, Acc=1)


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ladder")
    runs, truth = bench_ladder.draw(0)
    runs.to_csv(tmp / "runs.csv", index=False)
    out = tmp / "ladder.json"
    res = runner.invoke(app, ["fit", "ladder", str(tmp / "runs.csv"), "--loss-cols", "bpb_*", "--acc-cols", "acc_*",
                              "--bootstrap", "40", "--skip-first", "0.2", "--opt", "target_n=7e9", "--opt",
                              "target_d=4e12", *ANCHOR, "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "== task = task ==" in res.output and f"wrote {out}" in res.output
    assert "skipping the first 20%" in res.output
    assert "warning" not in res.output.lower(), res.output  # the command's own calls use the current keywords
    return tmp, out, truth


def test_predict_gives_loss_and_accuracy_per_task_with_intervals(fitted):
    tmp, out, truth = fitted
    res = runner.invoke(app, ["predict", str(out), "--at", "N=7e9,1.3e10", "--at", "D=4e12", "--json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)["predictions"]
    assert [r["N"] for r in rows] == [7e9, 1.3e10] and all(r["task"] == "task" for r in rows)
    for r in rows:
        assert r["L_lower"] <= r["L_pred"] <= r["L_upper"] and 0 <= r["acc_lower"] <= r["acc_pred"] <= r["acc_upper"]
    assert rows[0]["L_pred"] == pytest.approx(bench_ladder.task_loss(truth, 7e9, 4e12), rel=0.03)
    csv = runner.invoke(app, ["predict", str(out), "--at", "N=7e9", "--at", "D=4e12", "--out", str(tmp / "p.csv")])
    assert csv.exit_code == 0 and (tmp / "p.csv").read_text().startswith("N,D,task,L_pred")


def test_prediction_intervals_contain_the_mean_ones_and_are_the_default(fitted):
    _, out, _ = fitted
    at = ["--at", "N=7e9", "--at", "D=4e12", "--json"]
    runs = {k: json.loads(runner.invoke(app, ["predict", str(out), *at, *extra]).stdout)["predictions"][0]
            for k, extra in (("default", []), ("prediction", ["--interval", "prediction"]),
                             ("mean", ["--interval", "mean"]))}
    assert runs["default"] == runs["prediction"]
    wide, mean = runs["prediction"], runs["mean"]
    assert wide["acc_pred"] == mean["acc_pred"] and wide["L_pred"] == mean["L_pred"]
    for k in ("L", "acc"):  # the prediction band holds the mean band (it is never narrower than the bootstrap's)
        assert wide[f"{k}_lower"] <= mean[f"{k}_lower"] and wide[f"{k}_upper"] >= mean[f"{k}_upper"]
    # and the accuracy's is wider: the sigmoid's own run-to-run noise and extrapolation error are added
    assert wide["acc_upper"] - wide["acc_lower"] > 1.2 * (mean["acc_upper"] - mean["acc_lower"])
    bad = runner.invoke(app, ["predict", str(out), *at, "--interval", "none"])
    assert bad.exit_code != 0 and "prediction or mean" in bad.output


def test_plot_draws_both_steps(fitted):
    tmp, out, _ = fitted
    res = runner.invoke(app, ["plot", str(out), "--out", str(tmp / "ladder.png")])
    assert res.exit_code == 0, res.output
    assert (tmp / "ladder.png").stat().st_size > 10_000


@pytest.mark.parametrize("args,message", [
    (["--loss-cols", "bpb_*"], "needs --acc-cols"),
    (["--loss-cols", "bpb_*", "--acc-cols", "acc_*", "--group-by", "run_id"], "--group-by does not apply"),
    (["--loss-cols", "bpb_*", "--acc-cols", "acc_*", "--opt", "colour=red"], "does not take --opt"),
    (["--loss-cols", "bpb_*", "--acc-cols", "acc_*", "--opt", "target_n=7e9"], "both --opt target_n"),
    (["--loss-cols", "nope_*", "--acc-cols", "acc_*"], "matches no column"),
    (["--loss-cols", "bpb_*", "--acc-cols", "acc_*", "--weight", "step"], "not --weight"),
])
def test_fit_errors_are_one_line(fitted, args, message):
    tmp, _, _ = fitted
    res = runner.invoke(app, ["fit", "ladder", str(tmp / "runs.csv"), *args])
    assert res.exit_code == 1 and message in res.output, res.output
    assert len(res.output.strip().splitlines()) == 1


def test_ladder_options_belong_to_the_ladder_and_plan_refuses_a_ladder(fitted):
    tmp, out, _ = fitted
    res = runner.invoke(app, ["fit", "chinchilla", str(tmp / "runs.csv"), "--loss-cols", "bpb_*"])
    assert res.exit_code == 1 and "apply to `scalefit fit ladder`" in res.output
    plan = runner.invoke(app, ["plan", str(out), "--compute", "1e24"])
    assert plan.exit_code != 0 and "model ladder" in plan.output and "Traceback" not in plan.output


def test_paper_settings_from_the_command_line(fitted):
    tmp, _, _ = fitted
    res = runner.invoke(app, ["fit", "ladder", str(tmp / "runs.csv"), "--loss-cols", "bpb_*", "--acc-cols", "acc_*",
                              "--reduce", "mean-last=5", "--smooth", "5", "--opt", "threshold=0.02", "--opt",
                              "chance=0.25", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["schema"] == "scalefit.ladder/2" and d["options"]["reduce"] == "mean-last=5"
    assert d["options"]["smooth"] == 5 and d["options"]["threshold"] == 0.02
    assert d["choice"]["task"]["method"] in ("two-step", "direct") and "expected_error" in d["triage"]["task"]
