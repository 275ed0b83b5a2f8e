"""Synthetic run logs drawn from a law with known parameters (for examples and recovery tests)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from scalefit._budget import WORK_BYTES, check_work
from scalefit.errors import LawError
from scalefit.laws.base import Law

# Default design: an IsoFLOP-style grid of model sizes and compute budgets, as in Hoffmann et al.
DEFAULT_RANGES = {"N": (7e7, 1.6e10), "C": (6e18, 3e21), "D": (2e8, 3e11), "x": (1e18, 1e22)}


POINT_BYTES = 256  # memory per simulated run: its columns, their temporaries and its CSV text (~200 measured)


def simulate(
    law: Law,
    params: Mapping[str, float],
    *,
    n_points: int = 60,
    noise: float = 0.01,
    seed: int = 0,
    ranges: Mapping[str, tuple[float, float]] | None = None,
) -> pd.DataFrame:
    """Draw ``n_points`` runs with inputs log-uniform in ``ranges`` and multiplicative log-normal noise.

    For laws in N and D the design is an IsoFLOP grid: model sizes log-spaced in the N range, each
    trained at compute budgets log-spaced in the C range (D = C/6N), keeping D within its range.
    Columns are scalefit's canonical ones (``n_params``, ``n_tokens``, ``flops``, ``loss``).
    """
    from scalefit._schema import number_argument, seed_argument, whole_argument
    from scalefit.laws.constraints import check_values

    params = check_values(law, params, f"simulate {law.name}")
    n_points = whole_argument(n_points, "n_points", 1)
    most = WORK_BYTES // POINT_BYTES
    check_work("--points", n_points, LawError, f"use --points {most:,} or fewer", nbytes=n_points * POINT_BYTES)
    noise = number_argument(noise, "noise", lo=0.0)
    rng = np.random.default_rng(seed_argument(seed))
    r = {**DEFAULT_RANGES, **(ranges or {})}
    if set(law.inputs) == {"N", "D"}:
        x = _isoflop(r, n_points)
    else:
        x = {}
        for s in law.inputs:
            lo, hi = r.get(s, r["x"])
            x[s] = np.exp(rng.uniform(np.log(lo), np.log(hi), n_points))
    with np.errstate(all="ignore"):  # checked below
        y = np.asarray(law(x, params), dtype=float) * np.exp(noise * rng.standard_normal(len(next(iter(x.values())))))
    bad = ~np.isfinite(y) | ((y <= 0) if law.positive_target else False)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        at = ", ".join(f"{s}={v[i]:.4g}" for s, v in x.items())
        raise LawError(f"simulate {law.name}: the simulated {law.target} is {y[i]:g} at {at} ({int(bad.sum())} of "
                       f"{len(y)} points{'; the target must be > 0' if law.positive_target else ''}); check the "
                       f"parameters {params} and the noise {noise:g}")
    cols = {"N": "n_params", "D": "n_tokens", "C": "flops"}
    frame = pd.DataFrame({cols.get(s, s): v for s, v in x.items()})
    if "N" in x and "D" in x:
        frame["flops"] = 6.0 * x["N"] * x["D"]
    frame["loss" if law.target == "L" else law.target] = y
    return frame


def _isoflop(r: Mapping[str, tuple[float, float]], n_points: int) -> dict[str, np.ndarray]:
    n_budgets = max(1, int(round(np.sqrt(n_points / 2))))
    n_sizes = max(1, int(np.ceil(n_points / n_budgets)))
    budgets = np.geomspace(*r["C"], n_budgets)
    Ns, Ds = [], []
    for c in budgets:
        for n in np.geomspace(*r["N"], n_sizes * 3):
            d = c / (6 * n)
            if r["D"][0] <= d <= r["D"][1]:
                Ns.append(n)
                Ds.append(d)
    Ns, Ds = np.array(Ns), np.array(Ds)
    if len(Ns) > n_points:
        keep = np.round(np.linspace(0, len(Ns) - 1, n_points)).astype(int)
        Ns, Ds = Ns[keep], Ds[keep]
    return {"N": Ns, "D": Ds}
