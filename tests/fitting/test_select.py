"""select: candidates ranked by extrapolation folds, failures on the board, the winner's full-data fit, groups,
default candidates and the SelectionResult round trip."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from scalefit.errors import ScalefitError
from scalefit.fitting.select import candidate_laws, select
from scalefit.fitting.selection_result import SelectionResult
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from scalefit.runs import RunTable

TRUE = dict(E=1.8, A=400.0, B=2000.0, alpha=0.34, beta=0.28)


@pytest.fixture(scope="module")
def runs():
    df = simulate(get_law("chinchilla"), TRUE, n_points=60, noise=0.01, seed=1)
    df["family"] = np.where(np.arange(len(df)) % 2 == 0, "a", "b")
    return df


@pytest.fixture(scope="module")
def chosen(runs):
    return select(runs, ["chinchilla", "kaplan", "data-constrained"], folds=2, fraction=0.1)


def test_picks_the_generating_law_and_ranks_by_validation_rmsle(chosen, runs):
    assert chosen.winner["law"] == "chinchilla" and chosen.fit.law == "chinchilla"
    ok = [e for e in chosen.board if e["status"] == "ok"]
    assert [e["rmsle"] for e in ok] == sorted(e["rmsle"] for e in ok)
    assert {(e["law"], e["objective"]) for e in ok} == {(law, o) for law in ("chinchilla", "kaplan")
                                                          for o in ("huber", "mse")}
    assert chosen.along == "N" and len(chosen.folds) == 2 and chosen.folds[0].startswith("N > ")
    best = chosen.winner
    assert len(best["folds"]) == 2 and best["rmsle"] < 0.02 and best["r2"] > 0.9
    assert best["n_params"] == 5 and math.isfinite(best["aic"]) and isinstance(best["on_bounds"], list)
    assert chosen.fit.stats["n"] == len(runs)  # the winner refitted on all rows
    assert abs(chosen.fit.params["alpha"] - TRUE["alpha"]) < 0.1


def test_the_winner_is_the_simplest_near_the_best(runs):
    strict = select(runs, ["chinchilla", "kaplan"], objectives=["huber"], tolerance=0.0)
    assert strict.winner is strict.board[0] and strict.winner["law"] == "chinchilla"
    loose = select(runs, ["chinchilla", "kaplan"], objectives=["huber"], tolerance=10.0)
    assert loose.winner["law"] == "kaplan" and loose.fit.law == "kaplan"  # 4 parameters against 5
    assert loose.board[0]["law"] == "chinchilla" and [e.get("winner", False) for e in loose.board] == [False, True]
    assert "2*kaplan" in loose.report().replace(" ", "")


def test_a_failing_candidate_is_on_the_board_not_an_error(chosen):
    failed = [e for e in chosen.board if e["status"] == "failed"]
    assert {e["law"] for e in failed} == {"data-constrained"} and len(failed) == 2
    assert all("U_D" in e["reason"] and "\n" not in e["reason"] for e in failed)
    assert chosen.board[-1]["status"] == "failed"  # failures rank last
    assert "failed: " in chosen.report() and "winner (*): chinchilla (" in chosen.report()


def test_folds_nest_outward_and_a_holdout_is_one_fold(runs):
    n = runs["n_params"].to_numpy()
    sel = select(runs, ["chinchilla"], folds=3, fraction=0.1, objectives=["huber"])
    cuts = [float(f.split("> ")[1].split(" ")[0]) for f in sel.folds]
    assert cuts == sorted(cuts, reverse=True)
    assert all(np.min(np.abs(n / c - 1)) < 1e-3 for c in cuts)  # each cut is a fitted value: between values
    held = [f["n"] for f in sel.board[0]["folds"]]
    assert held == sorted(held) and held == [int((n > c * (1 + 1e-3)).sum()) for c in cuts]
    assert all(abs(h / len(n) - 0.1 * k) < 0.05 for k, h in enumerate(held, 1))  # about k·10% of the rows
    assert all(f"{h} of {len(n)} rows" in f for h, f in zip(held, sel.folds))  # the board says what was held out
    one = select(runs, ["chinchilla"], holdout="N > 1e10", objectives=["mse"])
    assert one.folds == ["N > 1e10"] and one.board[0]["folds"][0]["n"] == int((n > 1e10).sum())
    assert one.board[0]["objective"] == "mse" and one.fit.stats["loss"] == "mse"


def test_group_by_picks_one_law_for_all_groups(runs):
    sel = select(runs, ["chinchilla", "kaplan"], group_by="family", holdout="N > 1e10", objectives=["huber"])
    assert sel.fit.by == "family" and set(sel.fit) == {"a", "b"}
    assert {f["group"] for f in sel.board[0]["folds"]} == {"a", "b"}


def test_default_candidates_are_the_laws_the_columns_provide(runs):
    names = {law.name for law in candidate_laws(RunTable.from_frame(runs))}
    assert {"chinchilla", "kaplan", "overtrain"} <= names
    assert not names & {"expr", "data-constrained", "moe", "vocab", "nmt"}
    with_target = {law.name for law in candidate_laws(RunTable.from_frame(runs), target="loss")}
    assert "chinchilla" in with_target and all(get_law(n).target == "L" for n in with_target)


def test_folds_cut_between_tied_values(runs):
    tied = runs.assign(n_params=np.where(runs["n_params"] > 5e9, 1.6e10, runs["n_params"]))  # 15 of 60 rows at one N
    sel = select(tied, ["chinchilla"], folds=3, fraction=0.1, objectives=["huber"])
    n = tied["n_params"].to_numpy()
    held = [f["n"] for f in sel.board[0]["folds"]]
    assert len(sel.folds) == 3 and held[0] == 15 and held == sorted(held) and len(set(held)) == 3
    top = sorted(set(n))[::-1]
    assert held == [int((n >= top[k]).sum()) for k in range(3)]  # fold k: the k largest sizes, never part of one
    assert sel.folds[0].startswith(f"N > {top[1]:.4g} (top 1 of {len(top)} values, 15 of 60 rows)")
    few = tied.assign(n_params=np.where(n > 3e9, 1.6e10, 1e9))  # two sizes: one held out leaves one to fit
    with pytest.raises(ScalefitError, match="too few distinct values"):
        select(few, ["chinchilla"], objectives=["huber"])


def test_round_trip_and_bad_options(chosen, runs, tmp_path):
    back = SelectionResult.from_dict(json.loads(chosen.to_json()))
    assert isinstance(back, SelectionResult) and back.report() == chosen.report()
    path = chosen.save(tmp_path / "sel.json")
    loaded = SelectionResult.load(path)
    assert loaded.fit.params == chosen.fit.params
    assert loaded.predict({"N": [1e9], "D": [2e10]})[0] == pytest.approx(chosen.fit.predict({"N": 1e9, "D": 2e10})[0])
    with pytest.raises(TypeError):
        chosen.board.append({})
    for bad in (dict(objectives=["l1"]), dict(folds=0), dict(folds=5, fraction=0.3)):
        with pytest.raises(ScalefitError):
            select(runs, ["chinchilla"], **bad)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ScalefitError, match="nothing to fit"):
            select(runs, ["chinchilla"], holdout="N > 0")


def test_the_selection_benchmark_runs_a_tiny_version():
    """benchmarks/bench_select.py keeps working: two cases, their confusion table and success flags."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    try:
        import bench_select
    finally:
        sys.path.pop(0)
    results = bench_select.run_all(["chinchilla", "power"], seeds=[0], n_points=30)
    assert [r["law"] for r in results] == ["chinchilla", "power"]
    assert all(r["chosen"] in bench_select.LAWS and r["test_rmsle_generating"] < 0.05 for r in results)
    assert all(isinstance(r["success"], bool) for r in results)
    table = bench_select.confusion(results)
    assert table.splitlines()[1].startswith("chinchilla") and "/1" in table
