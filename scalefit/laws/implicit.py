"""Implicit laws: the target is the root of a residual g(y, x; theta) = 0 on a known bracket.

Some published laws do not give the target in closed form. Alabdulmohsin et al. 2022's estimator M4
("Revisiting Neural Scaling Laws in Language and Vision", Eq. 4),

    (y - eps_inf) / (eps_0 - y)^alpha = beta x^c,

defines the error y only implicitly. :class:`Implicit` turns such a law into the ``formula`` and
``gradient`` every :class:`~scalefit.laws.base.Law` has:

- ``formula`` solves g(y) = 0 for y inside the bracket (lo, hi) by a safeguarded Newton iteration
  (Newton steps that leave the current bracket become bisection steps), vectorised over every
  parameter set and data point at once, to machine precision.
- ``gradient`` follows from the implicit function theorem: dy/dtheta = -(dg/dtheta) / (dg/dy).

The residual must be increasing in y on the bracket (negate it otherwise), with g(lo) <= 0 <= g(hi);
where the bracket is empty or holds no sign change the prediction is NaN, which the fitting engine
treats as an invalid parameter set. :func:`solve_increasing` is the root finder on its own, used also
by derived quantities that solve an optimality condition (e.g. the vocabulary law's optimal N_v).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from scalefit.errors import LawError

Residual = Callable[[np.ndarray, Mapping, Mapping], np.ndarray]  # g(y, x, p)
Partials = Callable[[np.ndarray, Mapping, Mapping], dict]  # (y, x, p) -> {param: dg/dparam}
Bracket = Callable[[Mapping, Mapping], tuple]  # (x, p) -> (lo, hi)



_Y_ULPS = 1e-15  # a step below this (relative to y, ~4 units in the last place) cannot improve y
_T_MAX = 745.0  # |logit| beyond which sigmoid(t) rounds to 0 or 1 in double precision


def _sigmoid(t):
    """1 / (1 + exp(-t)) without cancellation for either sign of t."""
    e = np.exp(-np.abs(t))
    return np.where(t >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def _from_logit(t, lo, width, hi):
    """lo + width sigmoid(t), measured from the nearer end so that y - lo and hi - y keep full precision."""
    return np.where(t < 0, lo + width * _sigmoid(t), hi - width * _sigmoid(-t))


def solve_increasing(
    g: Callable[[np.ndarray], np.ndarray],
    lo: np.ndarray | float,
    hi: np.ndarray | float,
    *,
    dg: Callable[[np.ndarray], np.ndarray] | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 200,
    rtol: float = 1e-13,
) -> np.ndarray:
    """The root of an increasing function ``g`` inside (lo, hi), element-wise; NaN where there is none.

    ``g`` maps an array of candidate roots to residuals of the same (broadcast) shape. The search runs on
    t = logit((y - lo)/(hi - lo)), which maps the bracket onto the real line and straightens residuals
    that diverge logarithmically at its ends (as M4's does), so Newton steps (with ``dg``, the derivative
    in y) converge in a few iterations even for roots very close to an end; a step that leaves the current
    bracket on t becomes a bisection step, and without ``dg`` the search bisects. ``start`` (default: the
    midpoint) is the first iterate. An element stops once a step moves t by less than ``rtol``, i.e. moves
    y - lo and hi - y by less than that relative amount, or once y itself stops moving (beyond a few units in
    its last place); Newton's last step then lands at the precision the residual allows. Elements whose bracket is empty
    or not finite, whose residual does not change sign across it, or is NaN inside it, come back NaN.
    """
    with np.errstate(all="ignore"):
        lo0, hi0 = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
        width = hi0 - lo0
        t = np.zeros(np.broadcast_shapes(lo0.shape, hi0.shape))
        if start is not None:
            u = (np.asarray(start, dtype=float) - lo0) / width
            t = np.where((u > 0) & (u < 1), np.log(u) - np.log1p(-u), t)
        y = _from_logit(t, lo0, width, hi0)
        gy = np.asarray(g(y), dtype=float)
        shape = np.broadcast_shapes(gy.shape, y.shape)
        t, y, gy = (np.broadcast_to(a, shape).copy() for a in (t, y, gy))
        bad = ~(np.isfinite(lo0) & np.isfinite(hi0) & (lo0 < hi0)) | np.asarray(g(lo0) > 0) | np.asarray(g(hi0) < 0)
        bad = np.broadcast_to(bad, shape).copy()
        t_lo, t_hi = np.full(shape, -_T_MAX), np.full(shape, _T_MAX)
        finished = bad.copy()
        for _ in range(max_iter):
            bad |= np.isnan(gy)  # a residual that is not a number inside the bracket: no root to find
            finished |= bad
            t_lo, t_hi = np.where(gy < 0, t, t_lo), np.where(gy > 0, t, t_hi)
            new = 0.5 * (t_lo + t_hi)
            if dg is not None:
                newton = t - gy / (np.asarray(dg(y), dtype=float) * width * _sigmoid(t) * _sigmoid(-t))
                new = np.where(np.isfinite(newton) & (newton >= t_lo) & (newton <= t_hi), newton, new)
            new = np.where(finished | (gy == 0), t, new)
            y_new = _from_logit(new, lo0, width, hi0)
            # done: t moved by < rtol, or y itself no longer moves beyond a few units in its last place
            finished |= (np.abs(new - t) <= rtol) | (np.abs(y_new - y) <= _Y_ULPS * np.abs(y))
            t, y = new, y_new
            if finished.all():
                break
            gy = np.broadcast_to(np.asarray(g(y), dtype=float), shape)
        return np.where(bad, np.nan, y)


_LAST_ROOT = threading.local()  # per thread: (Implicit, x, p, root) of its last formula call (see Implicit.formula)


def _same_values(saved: Mapping, given: Mapping) -> bool:
    """Whether two mappings of arrays (or numbers) hold the same keys, shapes and values."""
    if saved.keys() != given.keys():
        return False
    for k, v in given.items():
        v = np.asarray(v)
        if saved[k].shape != v.shape or saved[k].dtype != v.dtype or not np.array_equal(saved[k], v):
            return False
    return True


@dataclass(frozen=True)
class Implicit:
    """A law given implicitly by an increasing residual g(y, x; p) = 0 with the root inside a bracket.

    ``formula`` and ``gradient`` are the two callables a :class:`~scalefit.laws.base.Law` takes.
    """

    residual: Residual  # g(y, x, p): increasing in y on the bracket, shapes broadcast like a formula's
    dg_dy: Residual  # dg/dy (y, x, p), > 0 on the bracket
    dg_dp: Partials | None  # {param: dg/dparam (y, x, p)}; None: the law has no gradient (the fit uses none)
    bracket: Bracket  # (x, p) -> (lo, hi), the root lies strictly inside
    start: Bracket | None = None  # (x, p) -> first guess of the root (default: the bracket's midpoint)

    def formula(self, x: Mapping, p: Mapping) -> np.ndarray:
        """The root y of g(y, x; p) = 0, vectorised over parameter sets like any formula.

        The last root found in this thread is kept: a fit's every step asks for the values and then the gradient
        (which needs the root again) at the same inputs and parameters, and solving once halves its time."""
        last = getattr(_LAST_ROOT, "value", None)
        if last is not None and last[0] is self and _same_values(last[1], x) and _same_values(last[2], p):
            return last[3].copy()
        lo, hi = self.bracket(x, p)
        with np.errstate(all="ignore"):
            start = None if self.start is None else self.start(x, p)
        y = solve_increasing(
            lambda y: self.residual(y, x, p), lo, hi, dg=lambda y: self.dg_dy(y, x, p), start=start
        )
        _LAST_ROOT.value = (self, {k: np.array(v) for k, v in x.items()}, {k: np.array(v) for k, v in p.items()},
                            y.copy())
        return y

    def gradient(self, x: Mapping, p: Mapping) -> dict:
        """dy/dp = -(dg/dp) / (dg/dy) at the root (implicit function theorem)."""
        if self.dg_dp is None:
            raise LawError("this implicit law was built without its parameter derivatives (dg_dp); give them")
        y = self.formula(x, p)
        with np.errstate(all="ignore"):
            slope = self.dg_dy(y, x, p)
            return {k: -np.asarray(v, dtype=float) / slope for k, v in self.dg_dp(y, x, p).items()}
