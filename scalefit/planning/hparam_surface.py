"""Fitting the ``lr-bsz`` loss valley to an LR x batch grid, started from the per-target laws.

The valley is a quadratic in (ln lr, ln B), so it describes the loss near each cell's optimum, not the
divergent edges of a sweep: it is fitted to the runs within ``tol`` (relative, default 2%) of their
cell's minimum, with the default robust objective (Huber on log loss). Starts: the floor from a
Chinchilla fit of the cell minima, the centre from the Step Law fits, and a small grid of curvatures
and tilts.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting import FitResult, fit_law
from scalefit.laws import get_law
from scalefit.runs import RunTable

CURVATURES = (0.003, 0.01, 0.03)  # nats per (ln unit)^2: start values of k_lr and k_B
TILTS = (-0.5, 0.0, 0.5)  # start values of s


def near_optimal_rows(frame: pd.DataFrame, tol: float) -> pd.DataFrame:
    """Runs within ``tol`` (relative) of their (N, D) cell's minimum loss."""
    if not tol > 0:
        raise RunDataError(f"surface_tol must be > 0 (a fraction, 0.02 = 2%), got {tol}")
    best = frame.groupby(["N", "D"], sort=False)["L"].transform("min")
    return frame[frame["L"] <= best * (1.0 + tol)]


def reference_scales(frame: pd.DataFrame) -> tuple[float, float]:
    """Powers of ten nearest the geometric means of N and D: the valley's reference scales."""
    return tuple(float(10.0 ** np.round(np.mean(np.log10(frame[c].to_numpy(dtype=float))))) for c in ("N", "D"))


def surface_starts(floor: Mapping[str, float], lr_fit: Mapping[str, float], b_fit: Mapping[str, float],
                   n_ref: float, d_ref: float) -> np.ndarray:
    """(S, 13) start points of ``lr-bsz`` in natural units, in the law's parameter order."""
    base = {
        "E": floor["E"], "A_N": floor["A"] * n_ref ** -floor["alpha"], "alpha": floor["alpha"],
        "A_D": floor["B"] * d_ref ** -floor["beta"], "beta": floor["beta"],
        "lr_ref": lr_fit["c_eta"] * n_ref ** lr_fit["alpha"] * d_ref ** lr_fit["beta"],
        "alpha_eta": lr_fit["alpha"], "beta_eta": lr_fit["beta"],
        "B_ref": b_fit["c_B"] * d_ref ** b_fit["gamma"], "gamma_B": b_fit["gamma"],
    }
    law = get_law("lr-bsz", n_ref=n_ref, d_ref=d_ref)
    rows = []
    for k_lr, k_b, s in itertools.product(CURVATURES, CURVATURES, TILTS):
        p = {**base, "k_lr": k_lr, "k_B": k_b, "s": s}
        rows.append([float(np.clip(p[q.name], q.lower, q.upper)) for q in law.params])
    return np.array(rows)


def fit_surface(frame: pd.DataFrame, cells: pd.DataFrame, fits: Mapping[str, FitResult], *, tol: float = 0.02,
                source: str = "<runs>", bootstrap: int = 0, seed: int = 0) -> FitResult:
    """Fit ``lr-bsz`` to the near-optimal runs of ``frame`` (columns N, D, lr, B, L)."""
    rows = near_optimal_rows(frame, tol)
    minima = RunTable.from_frame(cells.loc[:, ["N", "D", "loss_min"]].rename(columns={"loss_min": "L"}),
                                 f"{source} (cell minima)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        floor = fit_law("chinchilla", minima, calibrate=False).params  # starts only
    n_ref, d_ref = reference_scales(rows)
    law = get_law("lr-bsz", n_ref=n_ref, d_ref=d_ref)
    starts = surface_starts(floor, fits["lr"].params, fits["B"].params, n_ref, d_ref)
    table = RunTable.from_frame(rows.loc[:, ["N", "D", "lr", "B", "L"]], f"{source} (runs within {tol:g} of best)")
    return fit_law(law, table, starts=starts, bootstrap=bootstrap, seed=seed)  # the engine's search from them


