"""`scalefit backtest --folds K`: nested outward folds with scores per fold and overall (a case whose coverage
is known by construction), grouped fits, --interval choices, and the one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.fitting.backtesting import backtest_folds
from scalefit.fitting.folds import group_folds, outward_folds

POWER = dict(E=1.5, A=60.0, alpha=0.15)


def by_construction(n: int = 40, shift: float = 1.3) -> pd.DataFrame:
    """The power law with a deterministic ±1% zig-zag, and the top 10% of C (4 rows) multiplied by ``shift``:
    a fold fitted below them predicts them ~30% too low, far outside any band, and predicts the zig-zag rows
    within their noise band."""
    c = np.geomspace(1e17, 1e22, n)
    loss = (POWER["E"] + POWER["A"] * c ** -POWER["alpha"]) * np.where(np.arange(n) % 2, 1.01, 0.99)
    loss[-n // 10:] *= shift
    return pd.DataFrame({"C": c, "loss": loss})


@pytest.fixture()
def runs_csv(tmp_path):
    path = tmp_path / "runs.csv"
    by_construction().to_csv(path, index=False)
    return path


def test_outward_folds_are_nested_and_match_select():
    v = np.arange(1.0, 21.0)
    folds = outward_folds(v, "N", 3, 0.1)
    assert [int(f.held.sum()) for f in folds] == [2, 4, 6]
    assert all((a.held <= b.held).all() for a, b in zip(folds, folds[1:]))  # nested
    assert folds[0].what == "N > 18" and folds[0].describe() == "N > 18 (top 2 of 20 values, 2 of 20 rows)"
    tied = outward_folds(np.array([1.0] * 10 + [2.0] * 5 + [3.0] * 5), "N", 3, 0.1)
    assert [int(f.held.sum()) for f in tied] == [5]  # cut between values: the top size, then 2 must stay to fit


def test_folds_cut_between_distinct_values_when_the_largest_size_holds_30_percent():
    sizes = np.repeat([1e8, 2e8, 4e8, 8e8, 1.6e9, 3.2e9], [14, 14, 14, 14, 14, 30])  # 30 of 100 rows at 3.2e9
    folds = outward_folds(sizes, "N", 3, 0.1)
    assert [int(f.held.sum()) for f in folds] == [30, 44, 58]  # the top 1, 2, 3 sizes: never inside a tie
    assert [f.cut for f in folds] == [1.6e9, 8e8, 4e8]
    assert all(np.array_equal(f.held, sizes > f.cut) for f in folds)
    assert len(outward_folds(sizes, "N", 9, 0.1)) == 4  # as many folds as the distinct values allow (2 stay)
    desc = outward_folds(sizes[::-1] * 0 + np.repeat([3.0, 2.5, 2.0, 1.5], 25), "L", 2, 0.1, descending=True)
    assert [f.what for f in desc] == ["L < 2", "L < 2.5"] and int(desc[0].held.sum()) == 25


def test_group_folds_leave_one_out_or_deal_keys_round_robin():
    keys = [(0.2, 0.8), (0.5, 0.5), (0.2, 0.8), (1.0, 0.0)]
    loo = group_folds(keys, "mixture")
    assert [f.held.tolist() for f in loo] == [[True, False, True, False], [False, True, False, False],
                                               [False, False, False, True]]
    assert loo[0].describe() == "mixture = (0.2, 0.8) (1 of 3 values, 2 of 4 rows)"
    two = group_folds(keys, "mixture", 2)
    assert [int(f.held.sum()) for f in two] == [3, 1] and not (two[0].held & two[1].held).any()
    assert group_folds([(1.0, 0.0)] * 3, "mixture") == []  # one mixture: nothing to hold out


def test_coverage_known_by_construction(runs_csv):
    res = CliRunner().invoke(app, ["backtest", "power", str(runs_csv), "--folds", "2", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    first, second = out["folds"]
    assert first["n_holdout"] == 4 and second["n_holdout"] == 8
    assert first["scores"]["coverage"] == 0.0  # the 4 shifted rows: all outside
    assert second["scores"]["coverage"] == 0.5  # 4 zig-zag rows inside, the 4 shifted rows outside
    assert out["overall"]["coverage"] == pytest.approx(4 / 12)
    assert out["overall"]["n"] == 12 and out["overall"]["interval"] == "prediction"
    for key in ("r2", "rmsle", "nmse", "mean_abs_rel_error", "max_abs_rel_error", "interval_score"):
        assert key in second["scores"] and key in out["overall"]
    # a miss costs 2/0.05 = 40 times its distance: the interval score dwarfs the band width
    assert first["scores"]["interval_score"] > 10 * first["scores"]["mean_band_width"]


def test_folds_text_output_and_csv(runs_csv, tmp_path):
    out = tmp_path / "rows.csv"
    res = CliRunner().invoke(app, ["backtest", "power", str(runs_csv), "--folds", "2", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert res.output.count("95% prediction interval: coverage") == 3  # two folds and overall
    assert "overall (2 folds, 12 held-out rows)" in res.output
    rows = pd.read_csv(out)
    assert len(rows) == 12 and rows["fold"].nunique() == 2


def test_grouped_folds_score_each_group_and_overall(tmp_path):
    path = tmp_path / "runs.csv"
    pd.concat([by_construction().assign(family="a"), by_construction(shift=1.0).assign(family="b")]).to_csv(
        path, index=False)
    res = CliRunner().invoke(app, ["backtest", "power", str(path), "--folds", "1", "--group-by", "family",
                                   "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["groups"]["a"]["overall"]["coverage"] == 0.0  # its top rows shifted
    assert out["groups"]["b"]["overall"]["coverage"] == 1.0  # none shifted: the zig-zag stays in its band
    assert out["overall"]["coverage"] == 0.5 and out["overall"]["n"] == 8


def test_interval_choices(runs_csv):
    runner = CliRunner()
    none = runner.invoke(app, ["backtest", "power", str(runs_csv), "--folds", "1", "--interval", "none", "--json"])
    assert none.exit_code == 0, none.output
    assert "coverage" not in json.loads(none.stdout)["folds"][0]["scores"]
    mean = runner.invoke(app, ["backtest", "power", str(runs_csv), "--holdout", "C > 1e21", "--interval", "mean",
                               "--bootstrap", "20", "--json"])
    assert mean.exit_code == 0, mean.output
    assert json.loads(mean.stdout)["scores"]["interval"] == "mean"
    delta = runner.invoke(app, ["backtest", "power", str(runs_csv), "--holdout", "C > 1e21", "--interval", "mean",
                                "--json"])  # no bootstrap: the delta-method interval of the fitted curve
    assert delta.exit_code == 0, delta.output
    scores = json.loads(delta.stdout)["scores"]
    assert scores["interval"] == "mean" and 0 <= scores["coverage"] <= 1 and scores["mean_band_width"] > 0


@pytest.mark.parametrize("args, message", [
    ([], "--holdout EXPR or --folds K"),
    (["--holdout", "C > 1e21", "--folds", "2"], "--holdout EXPR or --folds K"),
    (["--folds", "20"], "folds"),
    (["--folds", "2", "--interval", "wide"], "--interval 'wide'"),
])
def test_usage_errors_are_one_line(runs_csv, args, message):
    res = CliRunner().invoke(app, ["backtest", "power", str(runs_csv), *args])
    assert res.exit_code == 1, res.output  # scalefit's one-line errors (cli/common.handle_errors)
    assert message in res.output and "Traceback" not in res.output


def test_library_backtest_folds_along_an_axis():
    results = backtest_folds("power", by_construction(), folds=3, fraction=0.1, interval=None)
    assert [len(bt.rows) for bt in results] == [4, 8, 12]
    assert results[0].holdout.startswith("C > ")
