"""Identifiability: can the data determine the fitted parameters at all?

A fit always returns numbers; this check says when those numbers are not pinned down by the data.
It runs once, at the optimum (never per bootstrap sample), and returns findings, each a dict
``{"check", "params", "message"}``:

- ``identical-rows``: every input has one value in every row, so nothing about the law's shape is learnt.
- ``distinct-values``: an input symbol has fewer than 2 distinct values, or fewer distinct values than the
  parameters that act only through it (a parameter acts only through ``N`` when its derivative changes
  with ``N`` and with no other input, e.g. ``A`` and ``alpha`` in ``A/N^alpha``). A constant ``N`` leaves
  ``A/N^alpha`` a constant that cannot be told apart from ``E``.
- ``jacobian``: the Jacobian of the residuals with respect to the fit-space parameters, with unit-norm
  columns, has a condition number above :data:`MAX_CONDITION` (or a column that is zero: a parameter with
  no effect on the fit). The parameters named are those with the largest components in the right-singular
  vectors of the near-zero singular values: the combinations the data cannot see.
"""

from __future__ import annotations

import numpy as np

from scalefit.fitting.objective import Problem

MAX_CONDITION = 1e10  # condition number of the column-scaled residual Jacobian above which a fit is flagged
_SAME = 1e-9  # relative gap below which two input values count as one
_NAMED = 0.3  # a parameter is named when its null-space weight is at least this share of the largest


def identifiability(problem: Problem, theta: np.ndarray) -> list[dict]:
    """Findings for the optimum ``theta`` (fit space, shape (P,)) of ``problem``; empty when identifiable."""
    law, x = problem.law, problem.x
    theta = np.asarray(theta, dtype=float).reshape(1, -1)
    distinct = {s: n_distinct(x[s]) for s in law.inputs}
    if law.inputs and all(n < 2 for n in distinct.values()):
        return [_identical_rows(problem)]
    findings = _distinct_values(problem, theta, distinct)
    flagged = {p for f in findings for p in f["params"]}
    jac = _jacobian_finding(problem, theta)
    if jac is not None and not flagged & set(jac["params"]):
        findings.append(jac)
    return findings


def n_distinct(values: np.ndarray) -> int:
    """Number of distinct values, counting values within a relative 1e-9 of each other as one."""
    v = np.sort(np.asarray(values, dtype=float).ravel())
    if v.size == 0:
        return 0
    gaps = np.diff(v) > _SAME * np.maximum(np.abs(v[1:]), np.abs(v[:-1]))
    return int(gaps.sum()) + 1


def _names(law, idx) -> list[str]:
    return [law.param_names[j] for j in idx]


def _identical_rows(problem: Problem) -> dict:
    law, x = problem.law, problem.x
    at = ", ".join(f"{s} = {float(np.ravel(x[s])[0]):.4g}" for s in law.inputs)
    return {
        "check": "identical-rows",
        "params": list(law.param_names),
        "message": f"all {problem.y.size} rows have the same inputs ({at}): the data fix {law.target} at that one "
                   f"point only, not how it depends on {', '.join(law.inputs)}, so the fitted "
                   f"{', '.join(law.param_names)} are not determined by the data; add runs that vary the inputs",
    }


def dependence(problem: Problem, theta: np.ndarray) -> np.ndarray:
    """(P, S) booleans: parameter j's derivative changes when input symbol s changes (others held).

    Probed at the inputs' medians and at each symbol moved by factors 0.7 and 1.6 on its own, at ``theta`` and at
    a typical point of the law (each parameter's middle start value): dependence is the law's structure, so an
    optimum that sits where a term degenerates (beta = 0 makes B act as a constant) does not hide it.
    """
    typical = problem.to_fit(np.array([[float(np.median(p.grid)) for p in problem.law.params]]))
    return _dependence_at(problem, theta) | _dependence_at(problem, typical)


def _dependence_at(problem: Problem, theta: np.ndarray) -> np.ndarray:
    law = problem.law
    base = {s: float(np.median(problem.x[s])) for s in law.inputs}
    probes = [base]
    for s in law.inputs:
        for f in (0.7, 1.6):
            probes.append({**base, s: base[s] * f if base[s] != 0 else f - 1.0})
    xp = {s: np.array([p[s] for p in probes]) for s in law.inputs}
    probe = Problem(law, xp, np.ones(len(probes)), loss=problem.loss, delta=problem.delta, space="raw")
    g = probe.jacobian(theta)[0]  # (P, probes): d law / d theta
    dep = np.zeros((len(law.params), len(law.inputs)), dtype=bool)
    with np.errstate(all="ignore"):
        for k in range(len(law.inputs)):
            moved = g[:, 1 + 2 * k : 3 + 2 * k]
            change = np.abs(moved - g[:, :1])
            scale = np.abs(moved) + np.abs(g[:, :1]) + 1e-300
            dep[:, k] = np.any(change > 1e-7 * scale, axis=1)
    return dep


def _distinct_values(problem: Problem, theta: np.ndarray, distinct: dict[str, int]) -> list[dict]:
    law = problem.law
    dep = dependence(problem, theta)
    out = []
    for k, s in enumerate(law.inputs):
        involved = np.flatnonzero(dep[:, k])
        only = [j for j in involved if not np.delete(dep[j], k).any()]
        n = distinct[s]
        if involved.size == 0 or (n >= 2 and n >= len(only)):
            continue
        named = _names(law, only or involved)
        how = "act only through" if only else "depend on"
        values = "value" if n == 1 else "values"
        out.append({
            "check": "distinct-values",
            "params": named,
            "message": f"{s} takes {n} distinct {values} in {problem.y.size} rows: the data cannot determine "
                       f"{', '.join(named)}, which {how} {s}; add runs at other {s}, fix {named[0]} (--fix "
                       f"{named[0]}=VALUE), or fit a law with fewer parameters in {s}",
        })
    return out


def _jacobian_finding(problem: Problem, theta: np.ndarray) -> dict | None:
    law = problem.law
    J = problem.jacobian(theta)[0].T  # (n, P)
    if not np.all(np.isfinite(J)):
        return None
    norms = np.linalg.norm(J, axis=0)
    dead = norms <= 1e-12 * max(float(norms.max()), 1e-300)
    Js = J / np.where(dead, 1.0, norms)
    Js[:, dead] = 0.0
    s, vt = np.linalg.svd(Js, full_matrices=False)[1:]
    if s.size < len(law.params):  # fewer rows than parameters: the fit refuses this earlier
        return None
    cond = float(s[0] / s[-1]) if s[-1] > 0 else np.inf
    if cond <= MAX_CONDITION:
        return None
    null = vt[s <= s[0] / MAX_CONDITION] if s[0] > 0 else vt
    weight = np.sqrt(np.sum(null**2, axis=0))
    named = _names(law, np.flatnonzero(weight >= _NAMED * weight.max()))
    rank = int(np.sum(s > s[0] / MAX_CONDITION))
    cond_text = "infinite" if not np.isfinite(cond) else f"{cond:.2g}"
    return {
        "check": "jacobian",
        "params": named,
        "message": f"the data cannot separate {', '.join(named)}: the residual Jacobian at the optimum has rank "
                   f"{rank} of {len(law.params)} (column-scaled condition number {cond_text} > {MAX_CONDITION:g}), "
                   "so moving these parameters together leaves the fit unchanged; add runs that vary what they "
                   f"depend on, or fix one of them (--fix {named[0]}=VALUE; fix={{'{named[0]}': VALUE}} in the "
                   "library)",
    }
