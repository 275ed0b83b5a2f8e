"""Standard errors without a bootstrap (fitting/covariance.py): Wald coverage on seeded synthetic data, agreement
with the bootstrap, delta-method intervals, the report naming the method, a singular fit, the file round trip."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from scalefit.fitting import FitResult, fit_law
from scalefit.fitting.intervals import Interval

POWER = dict(E=1.5, A=60.0, alpha=0.15)


def power_runs(seed: int, n: int = 30, noise: float = 0.01) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    c = np.geomspace(1e17, 1e22, n)
    law = POWER["E"] + POWER["A"] * c ** -POWER["alpha"]
    return pd.DataFrame({"C": c, "loss": law * np.exp(rng.normal(0.0, noise, n))})


def _fit(runs, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_law("power", runs, calibrate=False, **kw)


@pytest.mark.parametrize("loss", ["mse", "huber"])
def test_wald_intervals_cover_the_true_parameters(loss):
    """A fast version of benchmarks/bench_covariance.py: 25 seeded draws with 1% lognormal noise."""
    hits, widths = [], []
    for seed in range(25):
        f = _fit(power_runs(seed), loss=loss)
        iv = f.intervals()
        if not iv:  # a parameter at its bound (E = 0 in one draw): no Wald interval, counted as a miss
            assert "at the bound" in f.covariance["note"] and f.interval_method() is None
            hits += [False] * len(POWER)
            continue
        assert f.interval_method().startswith("Wald")
        hits += [iv[k][0] <= v <= iv[k][1] for k, v in POWER.items()]
        widths.append(iv["alpha"][1] - iv["alpha"][0])
    assert 0.75 <= np.mean(hits) <= 1.0, np.mean(hits)
    assert np.median(widths) < 0.3  # not vacuous (alpha's bounds are 0-5)


def test_wald_intervals_agree_with_the_bootstrap_and_shrink_with_more_data():
    runs = power_runs(3, n=60, noise=0.003)  # an optimum where the law is near-linear in its parameters
    wald = _fit(runs, loss="mse").intervals()
    boot = _fit(runs, loss="mse", bootstrap=200, seed=0).intervals()
    for k in POWER:
        ratio = np.subtract(*wald[k][::-1]) / np.subtract(*boot[k][::-1])
        assert 1 / 1.5 <= ratio <= 1.5, (k, wald[k], boot[k])
    se = _fit(runs, loss="mse").standard_errors()
    more = _fit(power_runs(3, n=240, noise=0.003), loss="mse").standard_errors()
    assert all(0 < more[k] < se[k] for k in POWER)


def test_delta_method_mean_interval_and_derived_quantities_say_their_kind():
    f = _fit(power_runs(1), loss="mse")
    at = {"C": [1e20, 1e24]}
    mean = f.predict_interval(at, interval="mean")
    assert isinstance(mean, Interval) and mean.kind == "mean" and "delta method" in mean.method
    pred = f.predict(at)
    assert np.all(mean.lower < pred) and np.all(pred < mean.upper)
    widths = (mean.upper - mean.lower) / pred
    assert widths[1] > widths[0]  # wider the further the extrapolation
    pi = f.predict_interval(at)  # the default: a prediction interval, wider than the curve's
    assert pi.kind == "prediction" and pi.label == "95% prediction interval"


def test_report_names_the_interval_method_and_shows_standard_errors():
    f = _fit(power_runs(0), loss="mse")
    text = f.report()
    assert "std. error" in text and "95% parameter interval (Wald" in text
    b = _fit(power_runs(0), loss="mse", bootstrap=20, seed=0)
    assert "95% parameter interval (bootstrap percentile (n=20))" in b.report()


def test_covariance_round_trips_and_a_singular_fit_has_none(tmp_path):
    f = _fit(power_runs(0), loss="mse")
    g = FitResult.load(f.save(tmp_path / "fit.json"))
    assert g.covariance == f.covariance and g.standard_errors() == f.standard_errors()
    flat = pd.DataFrame({"C": [1e20] * 6, "loss": [2.0, 2.01, 1.99, 2.0, 2.02, 1.98]})  # C constant: not identified
    s = _fit(flat, loss="mse")
    assert s.covariance["matrix"] is None and s.intervals() == {} and s.standard_errors() == {}
    assert "singular" in s.covariance["note"] or "bound" in s.covariance["note"]
    assert s.interval_method() is None


@pytest.mark.parametrize("tamper, field", [
    (lambda c: c.update(matrix=[[1.0, 0.0, 0.0], [0.0, 1.0]]), "matrix"),  # ragged
    (lambda c: c.update(matrix=[[1.0, 0.5, 0.0], [0.4, 1.0, 0.0], [0.0, 0.0, 1.0]]), "matrix"),  # not symmetric
    (lambda c: c.update(matrix=[[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]), "matrix"),  # negative variance
    (lambda c: c.update(matrix=[[float("nan")] * 3] * 3), "matrix"),
    (lambda c: c.update(params=["a", "b", "c"]), "params"),
    (lambda c: c.update(log="yes"), "log"),
    (lambda c: c.update(method="trust me"), "method"),
    (lambda c: c.pop("n"), "'n'"),
])  # fmt: skip
def test_a_tampered_covariance_is_refused_on_load(tmp_path, tamper, field):
    import json

    from scalefit.errors import FitFileError

    f = _fit(power_runs(0), loss="mse")
    path = f.save(tmp_path / "fit.json")
    d = json.loads(path.read_text())
    assert len(d["covariance"]["params"]) == 3  # power: E, A, alpha
    tamper(d["covariance"])
    path.write_text(json.dumps(d))
    with pytest.raises(FitFileError, match=f"covariance.*{field}|{field}.*covariance"):
        FitResult.load(path)


def test_huber_sandwich_by_hand_kernel_bread_and_hc2_meat():
    """covariance() for the Huber loss is A⁻¹BA⁻¹: bread Σ a_i J_iᵀJ_i, a_i = min(1, δ/b) for the rows with |r_i| <=
    max(δ, b) (Powell's kernel, b = σ̂ Φ⁻¹(1/2 + Hall-Sheather bandwidth), σ̂ = 1.4826 × the median of the n − P
    largest |r|), meat Σ ψ(r_i)² / (1 − h_i) J_iᵀJ_i (h the leverage)."""
    from statistics import NormalDist

    from scalefit.fitting.covariance import covariance
    from scalefit.fitting.objective import Problem, psi
    from scalefit.laws import get_law

    runs = power_runs(4)
    f = _fit(runs, loss="huber")
    law = get_law("power")
    problem = Problem(law, {"C": runs["C"].to_numpy()}, runs["loss"].to_numpy(), loss="huber", delta=1e-3)
    theta = problem.to_fit(np.array([[f.params[k] for k in law.param_names]]))
    J, r = problem.jacobian(theta)[0].T, problem.residuals(theta)[0]
    n, p = J.shape
    sigma = 1.4826 * np.median(np.sort(np.abs(r))[p:])
    bandwidth = sigma * NormalDist().inv_cdf(0.5 + 0.9715 * n ** (-1 / 3))  # 0.888 σ̂ at n = 30
    a = np.where(np.abs(r) <= bandwidth, 1e-3 / bandwidth, 0.0)
    assert 0.3 * n < np.count_nonzero(a) < 0.8 * n  # the rows near the curve carry the bread
    bread = np.linalg.inv(J.T @ (a[:, None] * J))
    h = np.einsum("ij,jk,ik->i", J, np.linalg.inv(J.T @ J), J)
    want = bread @ (J.T @ ((psi(r, "huber", 1e-3) ** 2 / (1 - h))[:, None] * J)) @ bread
    got = np.array(covariance(problem, theta)["matrix"])
    assert np.allclose(got, want, rtol=1e-3, atol=0)
    assert sigma > 1.4826 * np.median(np.abs(r - np.median(r)))  # the P interpolated rows no longer pull σ̂ down


def test_wald_intervals_use_students_t_with_n_minus_p_degrees_of_freedom():
    from scipy import stats

    from scalefit.fitting.covariance import delta_interval, parameter_intervals

    cov = {"params": ["E", "alpha"], "log": [False, False], "n": 7, "matrix": [[0.04, 0.0], [0.0, 0.01]]}
    iv = parameter_intervals(cov, {"E": 2.0, "alpha": 0.3}, 0.95)
    t = stats.t.ppf(0.975, 5)
    assert iv["E"] == pytest.approx((2.0 - t * 0.2, 2.0 + t * 0.2)) and t > 2.5  # far from the Gaussian 1.96
    lo, hi, se = delta_interval(cov, {"E": 2.0, "alpha": 0.3}, lambda p: p["E"] + 0 * p["alpha"], 0.95, log=False)
    assert se[0] == pytest.approx(0.2, rel=1e-6) and hi[0] - lo[0] == pytest.approx(2 * t * 0.2, rel=1e-6)
    big = parameter_intervals({**cov, "n": 10_000}, {"E": 2.0, "alpha": 0.3}, 0.95)
    assert big["E"][1] - 2.0 == pytest.approx(1.96 * 0.2, rel=1e-3)  # many rows: the Gaussian quantile
