"""Standard errors without a bootstrap: the parameter covariance from the residual Jacobian at the optimum.

At the optimum θ̂ (in fit space: the log of each parameter the law marks ``log``, else the value) of the
objective Σ_i w_i ρ(r_i(θ)), with J the (n, P) Jacobian of the residuals r (:meth:`Problem.jacobian`, the one
the search and the identifiability checks use) and w the row weights:

- ``mse``: the Gauss-Newton covariance σ̂² (JᵀWJ)⁻¹, σ̂² = Σ w_i r_i² / (n − P).
- ``huber``: the sandwich A⁻¹ B A⁻¹ (Huber 1967; White 1980) with a row-local bread and a leverage-corrected
  meat. Bread A = Σ_i w_i a_i J_iᵀJ_i, a_i = P(|e_i| ≤ δ) of row i by Powell's (1991) kernel estimate
  (:func:`_slopes`: min(1, δ/b) where |r_i| ≤ max(δ, b), else 0, with a Hall–Sheather bandwidth b); meat
  B = Σ_i (w_i ψ(r_i))² / (1 − h_i) J_iᵀJ_i (HC2, MacKinnon & White 1985: ψ the Huber influence function, the
  clipped residual, and h_i the leverage of row i, the diagonal of W^½J(JᵀWJ)⁻¹JᵀW^½; a row's residual is
  shrunk by its own pull on the fit, most at the high-leverage ends of a sweep that carry the extrapolation).
  With δ far below the noise (1e-3 in log loss, Chinchilla's) this is the kernel sandwich of least absolute
  deviations (quantreg's ``se="ker"``); with δ far above it, the heteroscedasticity-robust least-squares one.

Why row-local: the bread counts how firmly each row holds the curve, and where the law misses a region of the
data systematically (the runs' errors are not alike across the sweep) those rows hold it less; one P(|e| ≤ δ) for
every row, right for exchangeable errors, made Epoch's Wald intervals far narrower than the runs bootstrap's. The
coverage and the agreement with the bootstrap are measured by ``benchmarks/bench_covariance.py`` (results in
``benchmarks/results/bench_covariance.json``).

Wald intervals are symmetric in fit space, θ̂ ± t·se (t the quantile of Student's t with n − P degrees of
freedom, for both losses), mapped back to natural units (so a log-scale parameter's
interval is asymmetric and positive). A prediction's mean interval (of the fitted curve) and a derived
quantity's interval come by the delta method: se² = g Σ gᵀ, g the gradient of the log prediction (log-space
fit) or the prediction (raw) with respect to θ. These rest on the curve being close to linear in θ over the
interval and on the residuals being exchangeable; the bootstrap (``bootstrap=N``) makes neither assumption and
stays the stronger option.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalefit.fitting.objective import Problem, psi

METHODS = {"huber": "sandwich (Huber weights) from the residual Jacobian",  # the name fit files store and check
           "mse": "Gauss-Newton (residual Jacobian, residual variance)"}


MAX_LEVERAGE = 0.99  # a row the fit passes through (leverage 1, e.g. an anchor) counts as this: a finite meat

SINGULAR = ("the residual Jacobian at the optimum is singular (the data cannot separate some parameters): no "
            "standard errors from it")


def covariance(problem: Problem, theta: np.ndarray) -> dict:
    """The fit-space covariance of the parameters at ``theta`` (a JSON-ready dict: method, the parameters, which
    are on a log scale, the matrix; ``matrix`` None when the Jacobian is singular or not finite)."""
    theta = np.atleast_2d(np.asarray(theta, dtype=float))[:1]
    law = problem.law
    out = {"method": METHODS[problem.loss], "params": list(law.param_names),
           "log": [bool(v) for v in problem.is_log], "n": int(problem.n_rows), "matrix": None}
    natural = problem.to_natural(theta)[0]
    at_bound = [p.name for p, v in zip(law.params, natural) if _at_bound(v, p.lower, p.upper)]
    if at_bound:  # the optimum is on the boundary: no Wald interval (the bootstrap still gives one)
        out["note"] = (f"{', '.join(at_bound)} at the bound of the parameter space: no standard errors from the "
                       "Jacobian; use a bootstrap (bootstrap=N, CLI --bootstrap N)")
        return out
    J = problem.jacobian(theta)[0].T  # (n, P)
    r = problem.residuals(theta)[0]
    w = np.ones_like(r) if problem.w is None else np.asarray(problem.w, dtype=float).reshape(-1)
    n, p = J.shape
    if n <= p or not (np.all(np.isfinite(J)) and np.all(np.isfinite(r))):
        return out
    if problem.loss == "mse":
        bread = J.T @ (w[:, None] * J)
        inv = _inverse(bread)
        if inv is None:
            return {**out, "note": SINGULAR}
        sigma2 = float(np.sum(w * r * r)) / (n - p)
        cov = sigma2 * inv
    else:
        s = psi(r, problem.loss, problem.delta)
        gram = J.T @ (w[:, None] * J)
        inv = _inverse(gram)
        if inv is None:
            return {**out, "note": SINGULAR}
        slope = _slopes(r, problem.delta, p)
        bread = _inverse(J.T @ ((w * slope)[:, None] * J))
        if bread is None:  # too few rows near the curve to tell their densities apart: one density for all
            bread = inv / max(float(np.mean(slope)), 1.0 / n)
        lever = np.clip(w * np.einsum("ij,jk,ik->i", J, inv, J), 0.0, MAX_LEVERAGE)  # the hat matrix's diagonal
        meat = J.T @ (((w * s) ** 2 / (1.0 - lever))[:, None] * J)
        cov = bread @ meat @ bread
    if not np.all(np.isfinite(cov)):
        return out
    out["matrix"] = [[float(v) for v in row] for row in (cov + cov.T) / 2]
    return out


def _at_bound(value: float, lower: float, upper: float) -> bool:
    """Whether ``value`` lies on (within 1e-9 relative of) a finite bound, or outside the bounds."""
    tol = 1e-9 * max(abs(value), 1e-12)
    return not (lower + tol < value if np.isfinite(lower) else True) or \
        not (value < upper - tol if np.isfinite(upper) else True) or not np.isfinite(value)


def _slopes(r: np.ndarray, delta: float, n_params: int) -> np.ndarray:
    """Each row's E[ψ'(e_i)] = P(|e_i| <= δ) of the Huber loss, by Powell's (1991) kernel estimate: with a uniform
    kernel of half-width b, min(1, δ/b) where |r_i| <= max(δ, b), else 0. b = σ̂ · Φ⁻¹(1/2 + b_n), b_n the
    Hall-Sheather (1988) bandwidth at the median, n^(-1/3) z_0.975^(2/3) (1.5 φ(0)²)^(1/3) (about 0.31 at
    n = 30, 0.16 at n = 240), σ̂ = 1.4826 × the median of the n − P largest |residuals|: a fit with δ far below
    the noise is nearly least-absolute-deviations, which passes through P rows whose ~0 residuals say nothing
    of the noise."""
    from statistics import NormalDist

    n = r.size
    a = np.abs(r)
    sigma = 1.4826 * float(np.median(np.sort(a)[min(n_params, n - 1):]))
    if sigma <= 0:
        return np.ones_like(a)
    b = min(n ** (-1 / 3) * NormalDist().inv_cdf(0.975) ** (2 / 3) * (1.5 * NormalDist().pdf(0) ** 2) ** (1 / 3),
            0.49)
    h = sigma * NormalDist().inv_cdf(0.5 + b)
    return np.where(a <= max(delta, h), min(1.0, delta / h), 0.0)


def _inverse(a: np.ndarray) -> np.ndarray | None:
    """``a``⁻¹, or None when ``a`` is singular (condition number past 1e14 after column scaling)."""
    scale = np.sqrt(np.clip(np.diag(a), 1e-300, None))
    scaled = a / np.outer(scale, scale)
    if not np.all(np.isfinite(scaled)) or np.linalg.cond(scaled) > 1e14:
        return None
    return np.linalg.inv(scaled) / np.outer(scale, scale)


def _matrix(cov: Mapping) -> np.ndarray | None:
    m = cov.get("matrix") if cov else None
    return None if m is None else np.asarray(m, dtype=float)


def t_quantile(level: float, dof: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``dof`` degrees of freedom (Gaussian when dof <= 0)."""
    from scipy import stats

    from scalefit.fitting.calibration import gaussian_quantile
    from scalefit.fitting.resample import tail_percent

    tail_percent(level)  # refuses a level outside (0, 1)
    return float(stats.t.ppf(0.5 + level / 2, dof)) if dof > 0 else gaussian_quantile(level)


def _z(level: float, cov: Mapping) -> float:
    """:func:`t_quantile` with n − P degrees of freedom (n the fit's rows, P its parameters; the Gaussian one when
    the covariance does not record n)."""
    return t_quantile(level, int(cov.get("n", 0)) - len(cov["params"]))


def standard_errors(cov: Mapping | None, params: Mapping[str, float]) -> dict[str, float]:
    """Each parameter's standard error in natural units (value × fit-space se for a log-scale one); {} without
    a usable covariance."""
    m = _matrix(cov)
    if m is None:
        return {}
    se = np.sqrt(np.clip(np.diag(m), 0.0, None))
    return {name: float(abs(params[name]) * s if log else s)
            for name, log, s in zip(cov["params"], cov["log"], se)}


def parameter_intervals(cov: Mapping | None, params: Mapping[str, float], level: float) -> dict[str, tuple]:
    """Wald intervals at ``level`` of every parameter: θ̂ ± z·se in fit space, in natural units."""
    m = _matrix(cov)
    if m is None:
        return {}
    z, se = _z(level, cov), np.sqrt(np.clip(np.diag(m), 0.0, None))
    out = {}
    for name, log, s in zip(cov["params"], cov["log"], se):
        v = float(params[name])
        out[name] = (v * float(np.exp(-z * s)), v * float(np.exp(z * s))) if log else (v - z * s, v + z * s)
    return out


def _theta(cov: Mapping, params: Mapping[str, float]) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.array([np.log(params[n]) if log else params[n] for n, log in zip(cov["params"], cov["log"])])


def _natural(cov: Mapping, theta: np.ndarray) -> dict[str, np.ndarray]:
    """Parameters from fit-space ``theta`` (..., P)."""
    return {n: (np.exp(theta[..., j]) if log else theta[..., j]) for j, (n, log) in
            enumerate(zip(cov["params"], cov["log"]))}


def delta_interval(cov: Mapping | None, params: Mapping[str, float], fn, level: float, *, log: bool):
    """(lower, upper, se) of ``fn(params)`` (an array) by the delta method: a central finite-difference gradient
    in fit space; on log values when ``log`` (a positive quantity: the interval stays positive). None without a
    usable covariance."""
    m = _matrix(cov)
    if m is None:
        return None
    theta = _theta(cov, params)
    steps = 1e-5 * np.maximum(1.0, np.abs(theta))
    p = len(theta)
    shifted = np.repeat(theta[None, :], 2 * p + 1, axis=0)
    shifted[1: p + 1] += np.diag(steps)
    shifted[p + 1:] -= np.diag(steps)
    nat = {k: v[:, None] for k, v in _natural(cov, shifted).items()}  # (2P+1, 1): one row per parameter set
    with np.errstate(all="ignore"):
        vals = np.asarray(fn(nat), dtype=float)
        vals = vals.reshape(2 * p + 1, -1)
        t = np.log(vals) if log else vals
    grad = (t[1: p + 1] - t[p + 1:]) / (2 * steps[:, None])  # (P, points)
    se = np.sqrt(np.clip(np.einsum("ip,ij,jp->p", grad, m, grad), 0.0, None))
    z = _z(level, cov)
    centre = t[0]
    with np.errstate(all="ignore"):
        if log:
            return np.exp(centre - z * se), np.exp(centre + z * se), se
        return centre - z * se, centre + z * se, se


__all__ = ["METHODS", "covariance", "delta_interval", "parameter_intervals", "standard_errors", "t_quantile"]
