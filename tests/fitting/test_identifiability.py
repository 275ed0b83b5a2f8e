"""The identifiability check: a fit the data cannot determine warns, names the parameters and records it.

Seeded synthetic designs with known answers: a well-posed IsoFLOP grid (no finding), a constant input
(the parameters acting only through it), two model sizes for three N-parameters (a singular Jacobian),
identical rows; and Epoch's 240 Chinchilla points, which must pass without a finding.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import IdentifiabilityWarning
from scalefit.fitting import FitResult, Problem, fit
from scalefit.fitting.identifiability import dependence, identifiability, n_distinct
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
LAW = get_law("chinchilla")


def _runs(seed: int = 2, **fixed: float) -> pd.DataFrame:
    """The simulated IsoFLOP design, with columns in ``fixed`` held constant and the loss redrawn."""
    frame = simulate(LAW, TRUE, n_points=60, noise=0.005, seed=seed).drop(columns="flops")
    for col, value in fixed.items():
        frame[col] = value
    rng = np.random.default_rng(seed)
    frame["loss"] = LAW({"N": frame["n_params"], "D": frame["n_tokens"]}, TRUE) * np.exp(
        0.005 * rng.standard_normal(len(frame)))
    return frame


def _fit(frame: pd.DataFrame, **kwargs) -> tuple[FitResult, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = fit("chinchilla", frame, **kwargs)
    return res, [str(w.message) for w in caught if issubclass(w.category, IdentifiabilityWarning)]


def test_well_posed_design_has_no_finding():
    res, warned = _fit(_runs())
    assert res.identifiability == [] and warned == []
    assert res.params["beta"] == pytest.approx(TRUE["beta"], abs=0.05)


@pytest.mark.parametrize(("fixed", "symbol", "params"), [
    ({"n_tokens": 2e10}, "D", ["B", "beta"]),
    ({"n_params": 1e9}, "N", ["A", "alpha"]),
])
def test_constant_input_names_the_parameters_acting_through_it(fixed, symbol, params):
    res, warned = _fit(_runs(**fixed))
    (finding,) = res.identifiability
    assert finding["check"] == "distinct-values" and finding["params"] == params
    assert finding["message"].startswith(f"{symbol} takes 1 distinct value in 60 rows")
    assert warned == [finding["message"]]


def test_identical_rows_warn_once():
    rows = pd.DataFrame({"n_params": [1e9] * 20, "n_tokens": [2e10] * 20, "loss": [2.5] * 20})
    res, warned = _fit(rows)
    (finding,) = res.identifiability
    assert finding["check"] == "identical-rows" and finding["params"] == list(LAW.param_names)
    assert len(warned) == 1 and "all 20 rows have the same inputs" in warned[0]


def test_two_model_sizes_give_a_singular_jacobian_naming_A_and_alpha():
    frame = _runs()
    frame["n_params"] = np.where(np.arange(len(frame)) % 2, 1e8, 1e9)
    frame["loss"] = LAW({"N": frame["n_params"], "D": frame["n_tokens"]}, TRUE) * np.exp(
        0.005 * np.random.default_rng(0).standard_normal(len(frame)))
    res, warned = _fit(frame)
    (finding,) = res.identifiability
    assert finding["check"] == "jacobian" and set(finding["params"]) == {"A", "alpha"}
    assert "rank 4 of 5" in finding["message"] and len(warned) == 1


def test_grouped_fit_names_the_group():
    frame = pd.concat([_runs().assign(size="varied"), _runs(seed=5, n_tokens=3e10).assign(size="fixed D")])
    res, warned = _fit(frame, group_by="size")
    assert res["varied"].identifiability == []
    assert res["fixed D"].identifiability[0]["params"] == ["B", "beta"]
    assert len(warned) == 1 and warned[0].startswith("size = fixed D: D takes 1 distinct value")
    assert "warning: size = fixed D: D takes 1 distinct value" in res.report()


def test_findings_round_trip_and_show_in_the_report(tmp_path):
    res, _ = _fit(_runs(n_tokens=2e10))
    again = FitResult.load(res.save(tmp_path / "fit.json"))
    assert again.identifiability == res.identifiability
    assert res.to_dict()["identifiability"][0]["check"] == "distinct-values"
    assert f"warning: {res.identifiability[0]['message']}" in again.report()


def test_epoch_chinchilla_points_have_no_finding(chinchilla_csv):
    res, warned = _fit(chinchilla_csv, where="loss < 3.44", mapping={"N": "Model Size", "C": "Training FLOP"})
    assert res.stats["n"] == 240 and res.identifiability == [] and warned == []


def test_dependence_of_chinchilla_parameters_on_inputs():
    frame = _runs()
    x = {"N": frame["n_params"].to_numpy(), "D": frame["n_tokens"].to_numpy()}
    problem = Problem(LAW, x, frame["loss"].to_numpy())
    theta = problem.to_fit(np.array([[TRUE[k] for k in LAW.param_names]]))
    dep = dependence(problem, theta)
    assert dep.tolist() == [[False, False], [True, False], [False, True], [True, False], [False, True]]
    assert identifiability(problem, theta[0]) == []


@pytest.mark.parametrize(("values", "expected"), [
    ([1.0, 1.0, 1.0], 1), ([1e9, 1e9 * (1 + 1e-12)], 1), ([1.0, 2.0, 2.0, 3.0], 3), ([0.0, -0.0, 1e-300], 2), ([], 0),
])
def test_n_distinct(values, expected):
    assert n_distinct(np.array(values)) == expected
