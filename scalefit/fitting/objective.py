"""The fitting objective: a robust loss on (log-space or raw) residuals, vectorised over parameter sets.

``Problem`` binds a law to data. Parameters live in *fit space*: log(value) for parameters the law
marks ``log=True``, the value itself otherwise. Every method takes ``theta`` of shape ``(K, P)`` and
works on ``K`` parameter sets at once.

The data are usually one set of rows shared by the K parameter sets (``y`` of shape (n,)). They may instead be
one set of rows per parameter set (``y``, every input and the row weights of shape (K, n)): the starts of
several fits descending together (:mod:`scalefit.fitting.stack`); :meth:`Problem.for_starts` picks the rows of
some of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scalefit.errors import FitError
from scalefit.laws.base import Law

LOSSES = ("huber", "mse")
SPACES = ("log", "raw")


def robust(r: np.ndarray, loss: str, delta: float, w: np.ndarray | None = None):
    """The one robust loss: per-residual loss terms, their derivative psi and IRLS weight psi/r (None: all ones
    for ``mse``), each times the weights ``w`` when given. Huber: with m = min(|r|, delta), rho = m (|r| - m/2)
    (``r²/2`` inside delta, ``delta(|r| - delta/2)`` outside), psi = sign(r) m, irls = delta / max(|r|, delta);
    ``mse``: rho = r²/2, psi = r. Non-finite residuals give non-finite terms (the objective is then inf)."""
    with np.errstate(all="ignore"):
        if loss == "huber":
            a = np.abs(r)
            m = np.minimum(a, delta)
            terms, ps, irls = m * (a - 0.5 * m), np.copysign(m, r), delta / np.maximum(a, delta)
        else:
            terms, ps, irls = 0.5 * r * r, r, None
        if w is not None:
            terms, ps, irls = terms * w, ps * w, (w if irls is None else irls * w)
    return terms, ps, irls


def rho(r: np.ndarray, loss: str, delta: float) -> np.ndarray:
    """Per-residual loss of :func:`robust`: Huber (``r²/2`` inside delta, ``delta(|r| - delta/2)`` outside) or
    ``r²/2``."""
    return robust(r, loss, delta)[0]


def psi(r: np.ndarray, loss: str, delta: float) -> np.ndarray:
    """Derivative of :func:`rho` with respect to the residual (of :func:`robust`)."""
    return robust(r, loss, delta)[1]


def normal_terms(problem: Problem, theta: np.ndarray, w: np.ndarray | None = None, *, hessian: bool = True):
    """Objective (K,), gradient (K, P), Gauss-Newton / IRLS matrix (K, P, P; None without ``hessian``) and a
    finite flag (K,) of the parameter sets ``theta`` (K, P) on ``problem``'s rows: sums of w·rho, J·w·psi and
    J·w·irls·Jᵀ, with ``w`` the extra weights (None, (n,) or (K, n)) times the row weights. The flag is False
    where the gradient or matrix is not finite (a descent refuses such a step); the objective is inf where
    it is not finite. Every descent and refinement evaluates the objective through this one function."""
    pred = np.asarray(problem.predict(theta))
    r = problem.residuals_from(pred)
    with np.errstate(all="ignore"):  # a trial step may overflow; its objective is then inf and it is refused
        J = problem.jacobian(theta, pred)
        terms, ps, irls = robust(r, problem.loss, problem.delta, problem.weighted(w))
        f = terms.sum(axis=1)
        g = np.matmul(J, ps[:, :, None])[:, :, 0]
        ok = np.isfinite(g).all(axis=1)
        H = None
        if hessian:
            irls = None if irls is None else np.broadcast_to(irls, r.shape)  # weights may be (n,): shared rows
            H = np.matmul(J if irls is None else J * irls[:, None, :], J.transpose(0, 2, 1))
            ok &= np.isfinite(H).all(axis=(1, 2))
    return np.where(np.isfinite(f), f, np.inf), g, H, ok


@dataclass(frozen=True)
class Problem:
    """A law, its data and the objective options; evaluates residuals, objective and Jacobians."""

    law: Law  # the law being fitted
    x: dict  # symbol -> (n,) inputs, or (K, n): one row set per parameter set
    y: np.ndarray  # (n,) target, or (K, n)
    loss: str = "huber"  # "huber" or "mse"
    delta: float = 1e-3  # Huber threshold (in residual units)
    space: str = "log"  # residuals in "log" space (log pred - log y) or "raw"
    w: np.ndarray | None = None  # (n,) row weights multiplying each row's loss term (None: all 1)
    n_anchors: int = 0  # the last n_anchors rows are anchors: fixed points every bootstrap resample keeps

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise FitError(f"unknown loss {self.loss!r}; choose one of {LOSSES}")
        if self.space not in SPACES:
            raise FitError(f"unknown space {self.space!r}; choose one of {SPACES}")
        if not self.delta > 0:
            raise FitError(f"the Huber delta must be > 0, got {self.delta}")

    def weighted(self, weights: np.ndarray | None) -> np.ndarray | None:
        """``weights`` (None, (n,) or (K, n): e.g. bootstrap multiplicities) times the row weights :attr:`w`.

        The objective is ``sum(w * weights * rho(r))``; every place that sums loss terms over rows (the descents,
        the refinement, the row-chunked sums and :meth:`objective`) applies the row weights exactly once, here.
        """
        if self.w is None:
            return weights
        return self.w if weights is None else weights * self.w

    @property
    def n_rows(self) -> int:
        """Rows each parameter set is evaluated on."""
        return self.y.shape[-1]

    def for_starts(self, idx: np.ndarray) -> Problem:
        """The problem of the parameter sets ``idx``: itself when every set shares the rows, else their rows."""
        if self.y.ndim == 1:
            return self
        sub = Problem(self.law, {s: v[idx] for s, v in self.x.items()}, self.y[idx], loss=self.loss,
                      delta=self.delta, space=self.space, w=None if self.w is None else self.w[idx])
        for cached in ("fit_bounds", "is_log"):  # computed once, not again for every step's view
            if cached in self.__dict__:
                sub.__dict__[cached] = self.__dict__[cached]
        if "_log_y" in self.__dict__:
            sub.__dict__["_log_y"] = self._log_y[idx]
        return sub

    @property
    def n_data(self) -> int:
        """Rows that are data (the rows before the anchors)."""
        return self.y.size - self.n_anchors

    @cached_property
    def is_log(self) -> np.ndarray:
        return np.array([p.log for p in self.law.params])

    @cached_property
    def fit_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper bounds in fit space."""
        lo = np.array([p.lower for p in self.law.params], dtype=float)
        hi = np.array([p.upper for p in self.law.params], dtype=float)
        with np.errstate(divide="ignore"):
            lo = np.where(self.is_log, np.log(np.maximum(lo, 0.0)), lo)
            hi = np.where(self.is_log, np.log(hi), hi)
        return lo, hi

    def to_fit(self, natural: np.ndarray) -> np.ndarray:
        natural = np.atleast_2d(np.asarray(natural, dtype=float))
        with np.errstate(divide="ignore"):
            return np.where(self.is_log, np.log(np.where(self.is_log, natural, 1.0)), natural)

    def to_natural(self, theta: np.ndarray) -> np.ndarray:
        theta = np.atleast_2d(theta)
        return np.where(self.is_log, np.exp(np.where(self.is_log, theta, 0.0)), theta)

    def _params(self, natural: np.ndarray) -> dict:
        return {name: natural[:, j : j + 1] for j, name in enumerate(self.law.param_names)}

    def predict(self, theta: np.ndarray) -> np.ndarray:
        """Law values at the data, shape (K, n)."""
        with np.errstate(all="ignore"):
            out = self.law.formula(self.x, self._params(self.to_natural(theta)))
        return np.broadcast_to(out, (theta.shape[0], self.n_rows))

    def residuals(self, theta: np.ndarray) -> np.ndarray:
        """(K, n) residuals; NaN or inf where the law is invalid (e.g. non-positive in log space)."""
        return self.residuals_from(self.predict(theta))

    def residuals_from(self, pred: np.ndarray) -> np.ndarray:
        """Residuals for given law values ``pred`` (K, n)."""
        if self.space == "log":
            with np.errstate(all="ignore"):
                return np.log(pred) - self._log_y
        return pred - self.y

    @cached_property
    def _log_y(self) -> np.ndarray:
        return np.log(self.y)

    def objective(self, theta: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """Sum over rows of ``w * weights * rho(residual)`` (row weights included), shape (K,); inf where invalid."""
        return self.objective_from(self.residuals(theta), self.weighted(weights))

    def objective_from(self, r: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        """The objective for given (K, n) residuals ``r``; ``weights`` is (n,) or (K, n), used as given (the
        caller has applied :meth:`weighted`)."""
        f = robust(r, self.loss, self.delta, weights)[0].sum(axis=1)
        return np.where(np.isfinite(f), f, np.inf)

    def jacobian(self, theta: np.ndarray, pred: np.ndarray | None = None) -> np.ndarray:
        """d residual / d theta, shape (K, P, n); analytic when the law has a gradient.

        ``pred`` (the law values at ``theta``) may be passed to avoid recomputing them.
        """
        theta = np.atleast_2d(theta)
        natural = self.to_natural(theta)
        if pred is None:
            pred = self.predict(theta)
        K, n, P = theta.shape[0], self.n_rows, theta.shape[1]
        J = np.empty((K, P, n))
        log_space = self.space == "log"
        with np.errstate(all="ignore"):
            inv = 1.0 / pred if log_space else None
            if self.law.gradient is not None:
                g = self.law.gradient(self.x, self._params(natural))
                scale = np.where(self.is_log, natural, 1.0)
                for j, name in enumerate(self.law.param_names):
                    col = J[:, j, :]
                    if log_space:
                        np.multiply(g[name], inv, out=col)
                    else:
                        col[...] = g[name]
                    if self.is_log[j] or not log_space:
                        col *= scale[:, j : j + 1]
            else:
                for j in range(P):
                    h = 1e-6 * np.maximum(1.0, np.abs(theta[:, j]))
                    step = theta.copy()
                    step[:, j] += h
                    J[:, j, :] = (self.predict(step) - pred) / h[:, None]
                if log_space:
                    J *= inv[:, None, :]
        return J
