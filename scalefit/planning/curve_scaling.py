"""Model-size dependence of the lr-annealing curve law: a documented two-step procedure.

Step 1 — fit the curve law separately per model size (one lambda for all sizes)::

    scalefit fit lr-annealing CURVES --group-by n_params --out curves.json
    # or: fit_curves(curves, group_by="n_params")

Step 2 — relate each fitted parameter to the model size N (``relate_to_size`` below):

- ``L0(N) = E + B * N^-beta`` (the Chinchilla-style model-size term of the loss floor) when there are at
  least 4 sizes, fitted with the ``power`` law; with 2 or 3 sizes ``L0(N) = a * N^b`` (a straight line
  in log-log, 2 parameters), since 3 parameters cannot be checked on 3 points;
- ``A(N)``, ``alpha(N)`` and ``C(N)`` each ``a * N^b`` (least squares in log-log).

``CurveScaling.params_at(N)`` then gives the curve-law parameters of an untrained size and
``CurveScaling.predict_curve(N, lr)`` its whole predicted curve under any schedule. The relations are
only as good as the sizes behind them: extrapolating far beyond the largest fitted size is reported.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from scalefit.errors import ExtrapolationWarning, FitError
from scalefit.fitting.api import fit_law
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.result import FitResult
from scalefit.laws import get_law
from scalefit.laws.lr_annealing import areas, warmup_end
from scalefit.planning.lr_annealing import LAW

PARAMS = ("L0", "A", "alpha", "C")
MIN_SIZES_OFFSET = 4  # sizes needed before L0 gets the 3-parameter E + B N^-beta form


def _loglinear(n: np.ndarray, y: np.ndarray) -> dict:
    slope, intercept = np.polyfit(np.log(n), np.log(y), 1)
    return {"form": "a*N^b", "a": float(np.exp(intercept)), "b": float(slope)}


def _offset_power(n: np.ndarray, y: np.ndarray) -> dict:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = fit_law(get_law("power", x="N"), pd.DataFrame({"N": n, "L": y}), loss="mse")
    p = res.params
    return {"form": "E+B*N^-beta", "E": p["E"], "B": p["A"], "beta": p["alpha"]}


def _evaluate(rel: Mapping, n: np.ndarray) -> np.ndarray:
    if rel["form"] == "a*N^b":
        return rel["a"] * n ** rel["b"]
    return rel["E"] + rel["B"] * n ** (-rel["beta"])


@dataclass(frozen=True)
class CurveScaling:
    """Curve-law parameters as functions of model size N (step 2 of the procedure in the module doc)."""

    sizes: tuple  # model sizes N of the per-size fits, ascending
    per_size: dict  # N (as str) -> fitted parameters of that size
    lam: float  # the annealing decay factor shared by every size
    relations: dict  # parameter -> {"form": ..., coefficients}

    def params_at(self, N: float) -> dict:
        """The curve-law parameters predicted for a model with ``N`` parameters."""
        N = float(N)
        if N > max(self.sizes) * 1.0001 or N < min(self.sizes) * 0.9999:
            from scalefit.fitting.extrapolation import user_stacklevel

            warnings.warn(f"extrapolating the curve law to N = {N:.4g} beyond the fitted sizes "
                          f"[{min(self.sizes):.4g}, {max(self.sizes):.4g}]", ExtrapolationWarning,
                          stacklevel=user_stacklevel())  # the user's line, from params_at or predict_curve
        return {p: float(_evaluate(self.relations[p], np.asarray(N))) for p in PARAMS}

    def predict_curve(self, N: float, lr: np.ndarray) -> pd.DataFrame:
        """Predicted loss after every update of schedule ``lr`` for a model of size N (NaN during warmup)."""
        p = self.params_at(N)
        lr = np.asarray(lr, dtype=float)
        s1, s2 = areas(lr, self.lam)
        out = pd.DataFrame({"step": np.arange(1, lr.size + 1), "lr": lr, "S1": s1, "S2": s2})
        law = get_law(LAW, lam=self.lam)
        pred = np.asarray(law({"S1": s1, "S2": s2}, p), dtype=float)
        pred[: warmup_end(lr)] = np.nan
        out["L_pred"] = pred
        return out

    def report(self) -> str:
        lines = [f"lr-annealing parameters vs model size N (lambda = {self.lam:g}; {len(self.sizes)} sizes)"]
        frame = pd.DataFrame([{"N": float(k), **v} for k, v in self.per_size.items()])
        lines.append(frame.to_string(index=False, float_format=lambda v: f"{v:.5g}"))
        for p, rel in self.relations.items():
            if rel["form"] == "a*N^b":
                lines.append(f"{p:<6} = {rel['a']:.5g} * N^{rel['b']:+.4f}")
            else:
                lines.append(f"{p:<6} = {rel['E']:.5g} + {rel['B']:.5g} * N^-{rel['beta']:.4f}")
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"sizes": list(self.sizes), "per_size": self.per_size, "lambda": self.lam, "relations": self.relations}


def relate_to_size(fit: FitResult, sizes: Mapping[str, float] | None = None) -> CurveScaling:
    """Step 2: relate the parameters of an lr-annealing fit grouped by model size to N.

    ``sizes`` maps each group label to its N; by default the labels themselves are read as N (a fit
    grouped by ``n_params``).
    """
    grouped = isinstance(fit, FitSet)
    if fit.law != LAW or not grouped:
        raise FitError(f"relate_to_size needs an {LAW!r} fit grouped by model size "
                       f"(`scalefit fit {LAW} CURVES --group-by n_params`); got law {fit.law!r}"
                       + ("" if grouped else " without groups"))
    if len(fit) < 2:
        raise FitError("relating the curve law to model size needs fits of at least 2 sizes")
    n_of = {}
    for label in fit:
        try:
            n_of[label] = float(sizes[label]) if sizes is not None else float(label)
        except (KeyError, ValueError):
            raise FitError(f"no model size for group {label!r} of the fit (grouped by {fit.by!r}); pass "
                           "sizes={group: N} or group by the parameter count (n_params)") from None
    labels = sorted(n_of, key=n_of.get)
    n = np.array([n_of[k] for k in labels])
    lams = {float(fit[k].law_options.get("lam", 0.999)) for k in labels}
    if len(lams) != 1:
        raise FitError(f"the per-size fits use different lambda values {sorted(lams)}; fit them with one lambda")
    values = {p: np.array([fit[k].params[p] for k in labels]) for p in PARAMS}
    bad = [p for p, v in values.items() if np.any(v <= 0)]
    if bad:
        raise FitError(f"parameters {bad} are not positive at every size, so they cannot follow a power law in N")
    relations = {}
    for p in PARAMS:
        if p == "L0" and len(n) >= MIN_SIZES_OFFSET:
            relations[p] = _offset_power(n, values[p])
        else:
            relations[p] = _loglinear(n, values[p])
    per_size = {str(n_of[k]): dict(fit[k].params) for k in labels}
    return CurveScaling(tuple(float(v) for v in n), per_size, lams.pop(), relations)
