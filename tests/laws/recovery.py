"""Seeded synthetic run logs drawn from a law, and the relative errors of a refit (the law-family tests)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

import scalefit
from scalefit.errors import BoundWarning


def synthetic(law, true: dict, ranges: dict, *, noise: float, seed: int, n: int = 150,
              inputs: dict | None = None) -> tuple[pd.DataFrame, dict, np.ndarray]:
    """Inputs log-uniform in ``ranges`` (or the given ``inputs``), target = law * (1 + noise * N(0, 1))."""
    rng = np.random.default_rng(seed)
    x = inputs or {s: np.exp(rng.uniform(np.log(lo), np.log(hi), n)) for s, (lo, hi) in ranges.items()}
    y = np.asarray(law(x, true), dtype=float)
    y_obs = y * (1.0 + noise * np.random.default_rng(seed + 1).standard_normal(y.shape))
    return pd.DataFrame({**x, law.target: y_obs}), x, y


def refit_errors(law, frame: pd.DataFrame, true: dict, **options) -> tuple[dict, object]:
    """Fit with the default multi-start grid; relative errors per parameter (BoundWarning is a failure).

    No interval calibration unless asked (``calibrate=True``): its extrapolation folds leave the fitted parameters
    and predictions as they are (checked equal) and doubled the time of a fit; tests/fitting/test_calibration.py
    covers it, and tests/laws/test_contract.py's noisy fit of every law keeps it."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = scalefit.fit(law, frame, **{"calibrate": False, **options})
    bound = [str(w.message) for w in caught if w.category is BoundWarning]
    assert not bound, bound
    return {k: result.params[k] / v - 1.0 for k, v in true.items()}, result


def assert_recovers(law, true: dict, ranges: dict, rtol: dict, *, noise: float = 0.01, seed: int = 0,
                    n: int = 150, inputs: dict | None = None, **options):
    """Refit seeded data at ``noise`` (default 1%) and check every parameter within its tolerance."""
    frame, x, y = synthetic(law, true, ranges, noise=noise, seed=seed, n=n, inputs=inputs)
    errors, result = refit_errors(law, frame, true, **options)
    for k, err in errors.items():
        assert abs(err) <= rtol[k], f"{law.name}.{k}: relative error {err:+.4f} > {rtol[k]}; all: {errors}"
    return result, x, y
