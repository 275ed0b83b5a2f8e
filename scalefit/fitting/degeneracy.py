"""Degenerate fits: a law that fits by switching part of itself off, or by two large terms that nearly cancel.

Such a fit can score well in-sample and on a short extrapolation, yet it is not the law it claims to be: a term
whose coefficient went to 0 (with its exponent wandering to a bound) is a smaller law in disguise, and two
terms of size 20 whose difference is 1 extrapolate like neither. ``select`` flags these on its board and lets
a non-degenerate candidate win when it scores nearly as well. The checks, on the fitted rows' inputs ``x``:

- ``vanished``: parameters whose change (×1.1, or +0.1 at 0) moves no prediction by more than 1e-6 of the
  predictions' typical size: the term they belong to contributes nothing;
- ``cancelling``: the parameters the law is linear in (coefficients: f(1.5p) − f(p) = f(p) − f(0.5p)) give each
  row terms c_p = f(p) − f(p = 0); with the rest f_0 = f(all of them 0), the median over rows of
  (Σ|c_p| + |f_0|) / |f| is the *cancellation ratio*, 1 for a sum of positive terms; above
  :data:`CANCELLING` the prediction is a small difference of large terms;
- ``on_bounds``: parameters at a finite bound of the law (not the 0 of a positive coefficient).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

CANCELLING = 3.0  # cancellation ratio above which a fit's terms are said to nearly cancel
_INERT = 1e-6  # relative change below which a parameter has no effect


def on_bounds(law, params: Mapping[str, float]) -> list[str]:
    """The parameters at a finite bound (a positive coefficient's lower bound 0 excluded)."""
    out = []
    for p in law.params:
        v = params[p.name]
        for bound in (p.lower, p.upper):
            if np.isfinite(bound) and abs(v - bound) <= 1e-6 * max(1.0, abs(bound)) and not (p.log and bound == 0):
                out.append(p.name)
    return out


def _eval(law, x, params) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.asarray(law(x, params), dtype=float).reshape(-1)


def degeneracy(law, params: Mapping[str, float], x: Mapping[str, np.ndarray]) -> dict:
    """``{"vanished": [...], "cancelling": ratio, "on_bounds": [...]}`` of a fit (see the module docstring)."""
    params = {k: float(v) for k, v in params.items()}
    f = _eval(law, x, params)
    size = float(np.nanmedian(np.abs(f))) if f.size else 0.0
    scale = max(size, float(np.nanmax(f) - np.nanmin(f)) if f.size else 0.0, 1e-12)
    vanished, linear = [], []
    for p in law.param_names:
        v = params[p]
        step = {**params, p: v * 1.1 if v != 0 else 0.1}
        if np.nanmax(np.abs(_eval(law, x, step) - f), initial=0.0) <= _INERT * scale:
            vanished.append(p)
            continue
        up = _eval(law, x, {**params, p: 1.5 * v}) - f
        down = f - _eval(law, x, {**params, p: 0.5 * v})
        if v != 0 and np.allclose(up, down, rtol=1e-6, atol=1e-9 * scale):
            linear.append(p)
    ratio = 1.0
    if linear and f.size:
        terms = [f - _eval(law, x, {**params, p: 0.0}) for p in linear]
        rest = _eval(law, x, {**params, **{p: 0.0 for p in linear}})
        with np.errstate(all="ignore"):
            r = (np.sum(np.abs(terms), axis=0) + np.abs(rest)) / np.abs(f)
        r = r[np.isfinite(r)]
        ratio = float(np.median(r)) if r.size else 1.0
    return {"vanished": vanished, "cancelling": ratio, "on_bounds": on_bounds(law, params)}


def findings(deg: Mapping) -> list[str]:
    """The degeneracy as board notes, e.g. ``["vanished: A2, alpha2", "cancelling terms (×8.1)"]``."""
    out = []
    if deg.get("vanished"):
        out.append("vanished: " + ", ".join(deg["vanished"]))
    if deg.get("cancelling", 1.0) > CANCELLING:
        out.append(f"cancelling terms (×{deg['cancelling']:.1f})")
    if deg.get("on_bounds"):
        out.append("on bounds: " + ", ".join(deg["on_bounds"]))
    return out


__all__ = ["CANCELLING", "degeneracy", "findings", "on_bounds"]
