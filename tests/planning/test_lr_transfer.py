"""LR transfer on synthetic sweeps: SP's optimum falls as 1/width, muP's stays put."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import FitFileError, RunDataError
from scalefit.fitting.lr_transfer_result import LRTransferResult
from scalefit.planning.lr_transfer import BYTE_INITIAL_LOSS, lr_transfer, sensitivity

LRS = 2.0 ** np.arange(-14, -3.5, 0.5)
WIDTHS = (64, 128, 256, 512)


def sweep(n_seeds=2, noise=0.004, seed=0, widths=WIDTHS, lrs=LRS, slopes=(("sp", -1.0), ("mup", 0.0))):
    """Loss = floor(width) + 0.05 (log2 lr/eta*)^2 + noise; eta* = 1e-3 (width/128)^slope; lr > 5.6 eta* diverges."""
    rng = np.random.default_rng(seed)
    rows = []
    for par, slope in slopes:
        for w in widths:
            eta = 1e-3 * (w / 128) ** slope
            for lr in lrs:
                u = np.log2(lr / eta)
                for s in range(n_seeds):
                    if u > 2.5:
                        rows.append({"lr": lr, "width": w, "parametrization": par, "seed": s, "loss": np.nan,
                                     "status": "diverged"})
                    else:
                        loss = 3.0 - 0.3 * np.log2(w / 64) + 0.05 * u**2 + noise * rng.standard_normal()
                        rows.append({"lr": lr, "width": w, "parametrization": par, "seed": s, "loss": loss,
                                     "status": "ok"})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def result():
    return lr_transfer(sweep(), target_width=4096, bootstrap=300, seed=0)


def test_sp_slope_is_minus_one_and_mup_transfers(result):
    sp, mup = result.params["sp"], result.params["mup"]
    assert sp["slope"] == pytest.approx(-1.0, abs=0.05)
    lo, hi = result.slope_interval("sp")
    assert hi < 0 and not sp["transfers"]
    assert abs(mup["slope"]) < 0.05
    lo, hi = result.slope_interval("mup")
    assert lo <= 0 <= hi and mup["transfers"]
    # the target-width prediction follows each law, with an interval around it
    assert sp["target"]["lr_opt"] == pytest.approx(1e-3 * (4096 / 128) ** -1, rel=0.15)
    assert mup["target"]["lr_opt"] == pytest.approx(1e-3, rel=0.15)
    assert mup["target"]["lower"] < mup["target"]["lr_opt"] < mup["target"]["upper"]
    assert sp["target"]["extrapolated"]


def test_per_width_optima_and_intervals(result):
    for par, slope in (("sp", -1.0), ("mup", 0.0)):
        for w in result.params[par]["widths"]:
            truth = 1e-3 * (w["width"] / 128) ** slope
            assert w["how"] == "parabola" and w["bootstrap"] == "whole seeds"  # every seed trained every lr
            assert w["lr_opt"] == pytest.approx(truth, rel=0.1)
            assert w["lr_opt_lower"] <= w["lr_opt"] <= w["lr_opt_upper"]


def test_diverged_runs_count_with_the_initial_loss(result):
    assert result.columns["n_failed"] == int(sweep()["status"].eq("diverged").sum())
    curves = pd.DataFrame(result.curves)
    failed = curves[curves["n_failed"] > 0]
    np.testing.assert_allclose(failed["loss"], BYTE_INITIAL_LOSS)
    assert "ln 256" in result.columns["initial_loss"]
    # sensitivity per width is Wortsman's mean of min(L, L0) - min L over the grid
    w = result.params["mup"]["widths"][0]
    c = curves[(curves["param"] == "mup") & (curves["width"] == w["width"])]
    assert w["sensitivity"] == pytest.approx(np.mean(np.minimum(c["loss"], BYTE_INITIAL_LOSS)) - c["loss"].min())


def test_initial_loss_option_and_column_and_excluded_statuses():
    runs = sweep(n_seeds=1)
    runs.loc[runs.index[:3], "status"] = "running"
    opt = lr_transfer(runs, initial_loss=10.0, bootstrap=0)
    assert opt.columns["n_excluded"] == 3 and "10" in opt.columns["initial_loss"]
    assert pd.DataFrame(opt.curves).query("n_failed > 0")["loss"].eq(10.0).all()
    col = lr_transfer(runs.assign(initial_loss=7.0), bootstrap=0)
    assert pd.DataFrame(col.curves).query("n_failed > 0")["loss"].eq(7.0).all()
    # a missing loss without a status is a failed run too
    runs2 = sweep(n_seeds=1).drop(columns="status")
    res = lr_transfer(runs2, bootstrap=0)
    assert res.columns["n_failed"] == int(runs2["loss"].isna().sum())


def test_sensitivity_formula():
    assert sensitivity(np.array([3.0, 2.0, 2.5, 9.0]), 5.0) == pytest.approx((3 + 2 + 2.5 + 5) / 4 - 2)


def test_one_seed_uses_residual_bootstrap():
    res = lr_transfer(sweep(n_seeds=1, noise=0.01, seed=2), bootstrap=200)
    for w in res.params["sp"]["widths"]:
        assert w["bootstrap"] == "residuals"
        assert w["lr_opt_upper"] > w["lr_opt_lower"]


def test_optimum_beyond_the_sweep_is_flagged():
    narrow = LRS[LRS <= 2.0**-11]  # every optimum (>= 2^-12 ... 2^-8.5) near or above the top of the sweep
    res = lr_transfer(sweep(lrs=narrow, slopes=(("mup", 0.0),)), bootstrap=0)
    assert all(w["how"] == "edge" for w in res.params["mup"]["widths"])
    assert "edge of the swept LRs" in res.report()


def test_single_group_without_parametrization_column():
    runs = sweep(slopes=(("sp", -1.0),)).drop(columns="parametrization")
    res = lr_transfer(runs, bootstrap=0)
    assert list(res.params) == ["all"] and res.slope("all") == pytest.approx(-1.0, abs=0.05)


def test_round_trip_and_report(result, tmp_path):
    again = LRTransferResult.load(result.save(tmp_path / "t.json"))
    assert again.params == result.params
    text = again.report()
    assert "== sp ==" in text and "verdict: does not transfer" in text and "verdict: transfers" in text
    with pytest.raises(FitFileError, match="not found"):
        LRTransferResult.load(tmp_path / "nope.json")


def test_missing_width_is_a_clear_error():
    with pytest.raises(RunDataError, match="width"):
        lr_transfer(sweep().drop(columns="width"), bootstrap=0)


@pytest.mark.parametrize(
    "interval,expected",
    [((-0.1, 0.2), "transfers"), ((-1.2, -0.8), "does not transfer"), ((0.3, 0.9), "does not transfer"),
     ((-2.24, 0.1), "cannot tell from this sweep"), ((-0.2, 0.3), "cannot tell from this sweep")],
)
def test_verdict_is_an_equivalence_test(interval, expected):
    from scalefit.planning.lr_transfer import verdict

    assert verdict(interval, 0.25) == expected


def test_a_wide_interval_that_contains_zero_is_not_called_transfer(result):
    """SP's slope -1 is 'does not transfer'; muP's ~0 with a tight interval 'transfers'; a wide one neither."""
    assert result.params["sp"]["verdict"] == "does not transfer"
    assert result.params["mup"]["verdict"] == "transfers"
    wide = lr_transfer(sweep(), bootstrap=300, seed=0, margin=0.001)
    assert wide.params["mup"]["verdict"] == "cannot tell from this sweep" and not wide.params["mup"]["transfers"]
    assert "verdict: does not transfer" in result.report()


def test_the_seed_bootstrap_resamples_whole_seeds_and_cells_only_when_seeds_miss_lrs():
    # two seeds with the same optimum, one 0.05 nats above the other at every lr (a seed effect): resampling whole
    # seeds keeps the optimum; splicing cells of different seeds moves it
    lrs = [2.0**k for k in range(-9, -3)]
    rows = [{"lr": lr, "width": 64, "parametrization": "mup", "seed": s, "status": "ok",
             "loss": 2.0 + 0.05 * s + 0.02 * (np.log2(lr) + 6.3) ** 2} for s in (0, 1) for lr in lrs]
    rows += [{**r, "width": 128, "loss": r["loss"] - 0.1} for r in rows]
    whole = lr_transfer(pd.DataFrame(rows), bootstrap=400, seed=0).params["mup"]["widths"]
    for w in whole:
        assert w["bootstrap"] == "whole seeds" and w["lr_opt"] == pytest.approx(2.0**-6.3)
        assert w["lr_opt_lower"] == pytest.approx(2.0**-6.3) and w["lr_opt_upper"] == pytest.approx(2.0**-6.3)
    # a third seed at some lrs only: the grid is not complete, so seeds are resampled within each cell
    extra = [{**r, "seed": 2} for r in rows if r["lr"] in lrs[:3]]
    cells = lr_transfer(pd.DataFrame(rows + extra), bootstrap=400, seed=0).params["mup"]["widths"]
    for w in cells:
        assert w["bootstrap"] == "seeds"
        assert w["lr_opt_upper"] / w["lr_opt_lower"] > 1.05  # spliced curves move the optimum
    # seeds whose optima differ: the interval spans them
    moved = [{**r, "loss": r["loss"] + 0.02 * ((np.log2(r["lr"]) + 5.8) ** 2 - (np.log2(r["lr"]) + 6.3) ** 2)}
             if r["seed"] == 1 else r for r in rows]
    spread = lr_transfer(pd.DataFrame(moved), bootstrap=400, seed=0).params["mup"]["widths"][0]
    assert spread["lr_opt_lower"] == pytest.approx(2.0**-6.3, rel=0.02)
    assert spread["lr_opt_upper"] == pytest.approx(2.0**-5.8, rel=0.02)
