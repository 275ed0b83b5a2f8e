"""Curve fits from synthetic curve logs: recovery (cosine + WSD), lambda profile, whole-curve prediction for a
schedule nobody ran, schedule comparison, and the two-step model-size procedure."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import ExtrapolationWarning, FitError
from scalefit.laws import get_law
from scalefit.laws.lr_annealing import areas
from scalefit.planning.curve_scaling import relate_to_size
from scalefit.planning.curves import trainer_schedule
from scalefit.planning.lr_annealing import compare_schedules, fit_curves, predict_curve

TRUE = {"L0": 2.2, "A": 0.5, "alpha": 0.45, "C": 0.25}
T, PEAK = 3000, 3e-3
STEPS = np.unique(np.r_[np.round(np.geomspace(1, T, 40)).astype(int), np.arange(100, T + 1, 100)])


def curve_log(true=TRUE, lam=0.999, schedules=("cosine", "wsd"), noise=0.0, seed=0, **extra) -> pd.DataFrame:
    """Sparse curve log generated from the law, with the schedule metadata columns."""
    law, rng, parts = get_law("lr-annealing", lam=lam), np.random.default_rng(seed), []
    for name in schedules:
        lr = trainer_schedule(name, T, PEAK, warmup_frac=0.02, decay_frac=0.2)
        s1, s2 = areas(lr, lam)
        loss = law({"S1": s1[STEPS - 1], "S2": s2[STEPS - 1]}, true) * (1 + noise * rng.standard_normal(STEPS.size))
        parts.append(pd.DataFrame({
            "run_id": f"{name}{extra}", "step": STEPS, "lr": lr[STEPS - 1], "loss": loss, "schedule": name,
            "peak_lr": PEAK, "total_steps": T, "warmup_steps": 60, "decay_steps": 600, "min_lr_ratio": 0.1, **extra}))
    return pd.concat(parts, ignore_index=True)


@pytest.fixture(scope="module")
def noisy_fit():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        return fit_curves(curve_log(noise=0.002), bootstrap=40, seed=1)


def test_recovers_parameters_from_cosine_and_wsd_curve_logs():
    cf = fit_curves(curve_log())
    for p, v in TRUE.items():
        assert cf.fit.params[p] == pytest.approx(v, rel=1e-4)
    assert cf.fit.law_options == {"lam": 0.999} and cf.profile is None
    assert set(cf.runs["schedule"]) == {"cosine", "wsd"} and (cf.runs["max_abs_rel_err"] < 1e-5).all()
    assert cf.fit.data["n_rows"] == 2 * int((STEPS >= 60).sum())  # warmup rows are left out


def test_noisy_recovery_and_report(noisy_fit):
    for p, v in TRUE.items():
        assert noisy_fit.fit.params[p] == pytest.approx(v, rel=0.03), noisy_fit.fit.params
    text = noisy_fit.report()
    assert "lambda   0.999 (fixed" in text and "fit per run" in text and "wsd" in text


def test_lambda_profile_finds_the_generating_lambda():
    cf = fit_curves(curve_log(true=dict(TRUE, C=2.0), lam=0.99), fit_lambda=True)
    assert cf.lam == pytest.approx(0.99, abs=0.0015)
    assert cf.fit.law_options["lam"] == cf.lam and cf.fit.search["lambda_profile"] == cf.profile
    objectives = dict(cf.profile)
    assert objectives[cf.lam] == min(objectives.values())


def test_predicts_the_whole_curve_of_a_schedule_nobody_ran(noisy_fit):
    lr = trainer_schedule("linear", T, PEAK, warmup_frac=0.02)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        curve = predict_curve(noisy_fit.fit, lr)
    s1, s2 = areas(lr, 0.999)
    truth = get_law("lr-annealing")({"S1": s1, "S2": s2}, TRUE)
    after = curve["step"] > 100
    assert curve["L_pred"].iloc[:59].isna().all() and curve["L_pred"].iloc[60:].notna().all()  # NaN in warmup
    assert np.max(np.abs(curve["L_pred"][after] / truth[after] - 1)) < 0.01
    final = curve.iloc[-1]
    assert final["L_lower"] <= truth[-1] <= final["L_upper"]


def test_compare_schedules_finds_the_best_wsd_decay_fraction(noisy_fit):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        cmp = compare_schedules(noisy_fit.fit, steps=T, peak_lr=PEAK, warmup_frac=0.02)
    law = get_law("lr-annealing")
    truth = {}
    for f in cmp.table.loc[cmp.table["schedule"] == "wsd", "decay_frac"]:
        s1, s2 = areas(trainer_schedule("wsd", T, PEAK, warmup_frac=0.02, decay_frac=f), 0.999)
        truth[f] = float(law({"S1": s1[-1:], "S2": s2[-1:]}, TRUE)[0])
    assert cmp.best_wsd["decay_frac"] == min(truth, key=truth.get)
    assert list(cmp.table["L_final"]) == sorted(cmp.table["L_final"])
    assert cmp.table["p_best"].sum() == pytest.approx(1.0)
    assert set(cmp.table["schedule"]) == {"cosine", "wsd", "linear", "constant"}


def test_model_size_two_step_procedure_predicts_a_larger_model():
    def params(N):  # parameters that follow the procedure's forms exactly
        return {"L0": 1.6 + 40.0 * N ** -0.3, "A": 0.5 * (N / 1e7) ** -0.1, "alpha": 0.45 * (N / 1e7) ** 0.02,
                "C": 0.25 * (N / 1e7) ** 0.05}

    sizes = [2e6, 5e6, 1.2e7, 3e7]
    log = pd.concat([curve_log(true=params(N), n_params=int(N)) for N in sizes], ignore_index=True)
    cf = fit_curves(log, group_by="n_params")
    scaling = relate_to_size(cf.fit)
    assert scaling.relations["L0"]["form"] == "E+B*N^-beta"
    N = 1e8
    with pytest.warns(ExtrapolationWarning, match="beyond the fitted sizes"):
        got = scaling.params_at(N)
    for p, v in params(N).items():
        assert got[p] == pytest.approx(v, rel=2e-3), (p, got)
    lr = trainer_schedule("wsd", T, PEAK, warmup_frac=0.02, decay_frac=0.2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        pred = scaling.predict_curve(N, lr)
    s1, s2 = areas(lr, 0.999)
    truth = get_law("lr-annealing")({"S1": s1, "S2": s2}, params(N))
    assert abs(pred["L_pred"].iloc[-1] / truth[-1] - 1) < 1e-3
    assert "N^" in scaling.report()


def test_procedure_errors():
    with pytest.raises(FitError, match="grouped by model size"):
        relate_to_size(fit_curves(curve_log()).fit)
    with pytest.raises(FitError, match="sets law_options"):
        fit_curves(curve_log(), law_options={"lam": 0.9})
