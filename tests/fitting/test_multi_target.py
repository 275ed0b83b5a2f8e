"""Multi-target fits: one law per target column, in one result (library and CLI)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.errors import FitError, RunDataError
from scalefit.fitting import fit
from scalefit.fitting.multi_target import target_columns
from scalefit.laws import get_law
from scalefit.runs import RunTable

TRUE = {"loss_c4": {"E": 1.7, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28},
        "loss_wiki": {"E": 2.0, "A": 300.0, "B": 800.0, "alpha": 0.30, "beta": 0.33}}
runner = CliRunner()


def runs(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = {"N": np.exp(rng.uniform(np.log(1e7), np.log(3e9), n)), "D": np.exp(rng.uniform(np.log(1e8), np.log(1e11), n))}
    law = get_law("chinchilla")
    frame = pd.DataFrame({"n_params": x["N"], "tokens": x["D"], "other": rng.normal(size=n)})
    for col, p in TRUE.items():
        frame[col] = law(x, p) * np.exp(0.003 * rng.normal(size=n))
    return frame


@pytest.fixture(scope="module")
def multi():
    frame = runs()
    return frame, fit("chinchilla", frame, target=["loss_c4", "loss_wiki"], mapping={"N": "n_params", "D": "tokens"})


def test_each_target_recovers_its_own_law_and_equals_its_single_fit(multi):
    frame, res = multi
    assert res.targets == ("loss_c4", "loss_wiki") and res.by == "target"
    for col, true in TRUE.items():
        part = res[col]
        assert part.data["mapping"]["L"] == col
        for k in ("alpha", "beta"):
            assert part.params[k] == pytest.approx(true[k], rel=0.05)
        # the parameters alone (interval calibration leaves them as they are)
        alone = fit("chinchilla", frame, target=col, mapping={"N": "n_params", "D": "tokens"}, calibrate=False)
        assert part.params == alone.params
    assert "fitted to 2 targets: loss_c4, loss_wiki" in res.report()


def test_round_trip_and_library_selection(multi, tmp_path):
    _, res = multi
    back = scalefit.load(res.save(tmp_path / "m.json"))
    assert list(back.targets) == ["loss_c4", "loss_wiki"]
    assert back["loss_wiki"].params == res["loss_wiki"].params
    every = back.predict({"N": 1e9, "D": 1e10})  # every target's, in target order
    assert list(every) == ["loss_c4", "loss_wiki"] and every["loss_wiki"] == back["loss_wiki"].predict({"N": 1e9,
                                                                                                       "D": 1e10})
    with pytest.raises(FitError, match="no target 'loss_x'"):
        back["loss_x"]


def test_a_file_whose_targets_are_not_its_groups_is_refused(multi, tmp_path):
    _, res = multi
    d = res.to_dict()
    d["targets"] = ["loss_c4", "loss_other"]
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(d))
    with pytest.raises(scalefit.errors.FitFileError, match="targets"):
        scalefit.load(path)


def test_target_columns_parsing_and_errors():
    table = RunTable.from_frame(pd.DataFrame({"loss_a": [1.0], "loss_b": [2.0], "a,b": [3.0], "N": [1.0]}))
    assert target_columns(table, "loss_a, loss_b") == ["loss_a", "loss_b"]
    assert target_columns(table, "a,b") == ["a,b"]  # a column whose name has a comma is taken whole
    assert target_columns(table, glob="loss_*") == ["loss_a", "loss_b"]
    for args, message in [(("loss_a,loss_c",), "no target column \\['loss_c'\\]"), (("loss_a,,",), "empty target"),
                          (("loss_a,loss_a",), "more than once")]:
        with pytest.raises(RunDataError, match=message):
            target_columns(table, *args)
    with pytest.raises(RunDataError, match="matches no column"):
        target_columns(table, glob="acc_*")
    with pytest.raises(RunDataError, match="not both"):
        target_columns(table, "loss_a", glob="loss_*")


def test_cli_fits_predicts_and_plots_every_target(tmp_path):
    csv = tmp_path / "runs.csv"
    runs(n=80).to_csv(csv, index=False)
    out = tmp_path / "m.json"
    common = ["--map", "N=n_params", "--map", "D=tokens"]
    res = runner.invoke(app, ["fit", "chinchilla", str(csv), "--target-glob", "loss_*", *common, "--bootstrap", "20",
                              "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "== target = loss_c4 ==" in res.output and "== target = loss_wiki ==" in res.output
    pred = runner.invoke(app, ["predict", str(out), "--at", "N=1e9", "--at", "D=2e10", "--json"])
    assert pred.exit_code == 0, pred.output
    row = json.loads(pred.stdout)["predictions"][0]
    res_file = scalefit.load(out)
    for col in TRUE:
        assert row[f"{col}_pred"] == pytest.approx(res_file[col].predict({"N": 1e9, "D": 2e10})[0])
        assert row[f"{col}_lower"] < row[f"{col}_pred"] < row[f"{col}_upper"]
    one = json.loads(runner.invoke(app, ["predict", str(out), "--at", "N=1e9", "--at", "D=2e10", "--group",
                                         "loss_wiki", "--json"]).stdout)["predictions"][0]
    assert [one[k] for k in one if k.endswith("_pred")] == [pytest.approx(row["loss_wiki_pred"])]
    png = tmp_path / "m.png"
    assert runner.invoke(app, ["plot", str(out), "--runs", str(csv), "--out", str(png)]).exit_code == 0
    assert png.stat().st_size > 0
    same = runner.invoke(app, ["fit", "chinchilla", str(csv), "--target", "loss_c4,loss_wiki", *common, "--json"])
    assert json.loads(same.stdout)["targets"] == ["loss_c4", "loss_wiki"]


@pytest.mark.parametrize("args, message", [
    (["fit", "chinchilla", "{csv}", "--target", "loss_c4,loss_zz"], "no target column ['loss_zz']"),
    (["fit", "chinchilla", "{csv}", "--target-glob", "acc_*"], "matches no column"),
    (["fit", "chinchilla", "{csv}", "--target", "loss_c4", "--target-glob", "loss_*"], "use one of"),
    (["fit", "chinchilla", "{csv}", "--target-glob", "loss_*", "--group-by", "other"], "cannot also be grouped"),
    (["backtest", "chinchilla", "{csv}", "--target-glob", "loss_*", "--holdout", "N > 1e9"], "takes one target"),
    (["fit", "isoflop", "{csv}", "--target-glob", "loss_*"], "--target-glob does not apply"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    csv = tmp_path / "runs.csv"
    runs(n=30).to_csv(csv, index=False)
    res = runner.invoke(app, [a.format(csv=csv) for a in args] + ["--map", "N=n_params", "--map", "D=tokens"])
    assert res.exit_code != 0
    assert message in res.output and "Traceback" not in res.output
    assert len(res.output.strip().splitlines()) == 1, res.output
