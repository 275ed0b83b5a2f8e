"""The compute-optimal frontier of a law in N and D: min over N of L(N, C/(6N)) at each compute C.

Closed form when the law derives ``N_opt`` and ``D_opt`` (Chinchilla); otherwise a numeric search over
N on a log grid (8 decades around sqrt(C/6)) refined by a parabola in log N. A budget whose minimum
falls on the edge of the grid has no interior optimum and gives NaN.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from scalefit.plotting._common import nd_inputs

_U = np.linspace(-4.0, 4.0, 321)  # log10 offsets of N from sqrt(C/6)


def frontier(law, params: Mapping[str, np.ndarray], C: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N*, D*, L*) at budgets ``C`` for K parameter sets shaped (K, 1); each result is (K, len(C))."""
    C = np.asarray(C, dtype=float)
    with np.errstate(all="ignore"):
        if "N_opt" in law.derived and "D_opt" in law.derived:
            n = np.asarray(law.derived["N_opt"].fn(params, C=C), dtype=float)
            d = np.asarray(law.derived["D_opt"].fn(params, C=C), dtype=float)
            k = len(next(iter(params.values())))
            n, d = np.broadcast_to(n, (k, len(C))), np.broadcast_to(d, (k, len(C)))
            loss = np.asarray(law.formula(nd_inputs(law, n, d), params), dtype=float)
            return n, d, np.broadcast_to(loss, n.shape)
        return _numeric(law, params, C)


def _numeric(law, params, C):
    k = len(next(iter(params.values())))
    n_out = np.full((k, len(C)), np.nan)
    l_out = np.full((k, len(C)), np.nan)
    du = _U[1] - _U[0]
    rows = np.arange(k)
    for j, c in enumerate(C):
        n_grid = np.sqrt(c / 6.0) * 10.0**_U
        loss = np.broadcast_to(np.asarray(law.formula(nd_inputs(law, n_grid, c / (6.0 * n_grid)), params), float),
                               (k, len(_U)))
        loss = np.where(np.isfinite(loss), loss, np.inf)
        i = np.argmin(loss, axis=1)
        inner = (i > 0) & (i < len(_U) - 1) & np.isfinite(loss[rows, i])
        ic = np.clip(i, 1, len(_U) - 2)
        lm, l0, lp = loss[rows, ic - 1], loss[rows, ic], loss[rows, ic + 1]
        curv = lm - 2 * l0 + lp
        off = np.where(curv > 0, 0.5 * (lm - lp) / np.where(curv > 0, curv, 1.0), 0.0)
        off = np.clip(off, -1.0, 1.0)
        n_out[:, j] = np.where(inner, np.sqrt(c / 6.0) * 10.0 ** (_U[ic] + off * du), np.nan)
        l_out[:, j] = np.where(inner, l0 - 0.25 * (lm - lp) * off, np.nan)
    return n_out, C / (6.0 * n_out), l_out
