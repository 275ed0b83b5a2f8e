"""Data-mixing law for one validation domain (Ye et al. 2024, "Data Mixing Laws: Optimizing Data
Mixtures by Predicting Language Modeling Performance": the law of validation domain i over M training domains).

    L_i = c_i + k_i*exp(t_i1*r1 + ... + t_iM*rM)

r1..rM are the proportions of the M training domains in the mixture (columns r1, r2, ...; the number of
domains is the option ``n``, default 3, e.g. ``--opt n=4``). Each validation domain i has its own law;
fit one per target column (a multi-target fit fits them all at once).

Identifiability. On the simplex (r1 + ... + rM = 1) the coefficient k_i is not separable from the
t_ij: k e^(t.r) = e^((t_j + log k) r_j summed). By default (option ``simplex=true``) the law is therefore
fitted in the equivalent form

    L_i = c_i + exp(t1*r1 + ... + tM*rM)           (t_j here = the paper's t_ij + log k_i)

which predicts exactly as the paper's law for every mixture on the simplex. With ``simplex=false``
(proportions that do not sum to a constant, e.g. raw sampling weights) k is a free parameter too.

Derived: loss_pure_j = c + exp(t_j), the loss when training only on domain j (simplex form).

``data-mixture-linear`` is the linear baseline of the mixture-regression literature (Liu et al. 2024, "RegMix:
Data Mixture as Regression for Language Model Pre-training", whose linear-regression variant this is):

    L_i = t1*r1 + ... + tM*rM            (simplex form; with simplex=false, L_i = c + t1*r1 + ... + tM*rM)

Both laws declare their extrapolation axis ``along="mixture"``: their folds (``scalefit select``, backtests,
calibration) hold out whole mixtures, not the largest values of one proportion. :func:`domains_in` counts the
proportion columns r1, r2, ... of a log (``select`` builds the candidates with that many domains).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import bool_option, int_option
from scalefit.laws.registry import register

AXIS = "mixture"  # the extrapolation axis the mixture laws declare (scalefit.fitting.folds.MIXTURE)

_C_GRID = (0.5, 1.5, 3.0)
_K_GRID = (0.1, 1.0)
_T_GRID = (-2.0, 0.0, 2.0)
_MAX_DOMAINS = 6


def _names(n):
    return tuple(f"r{j}" for j in range(1, n + 1)), tuple(f"t{j}" for j in range(1, n + 1))


def _exponent(x, p, rs, ts):
    return sum(p[t] * x[r] for r, t in zip(rs, ts))


def _formula(x, p, rs, ts, simplex):
    e = np.exp(_exponent(x, p, rs, ts))
    return p["c"] + (e if simplex else p["k"] * e)


def _gradient(x, p, rs, ts, simplex):
    e = np.exp(_exponent(x, p, rs, ts))
    scale = 1.0 if simplex else p["k"]
    grad = {"c": 1.0, **{t: scale * e * x[r] for r, t in zip(rs, ts)}}
    if not simplex:
        grad["k"] = e
    return grad


def domains_in(columns, mapping=None) -> int:
    """How many proportion columns r1, r2, ... (consecutive from r1, or mapped with --map rJ=COLUMN) a log has,
    at most the laws' limit of 6; 0 when it has no r1."""
    have = {str(c) for c in columns} | {str(s) for s in dict(mapping or {})}
    n = 0
    while n < _MAX_DOMAINS and f"r{n + 1}" in have:
        n += 1
    return n


def _pure(t):
    return lambda p: p["c"] + np.exp(p[t]) * (p["k"] if "k" in p else 1.0)


@register("data-mixture")
def data_mixture(n: int = 3, simplex: bool = True) -> Law:
    """With the defaults (n=3, simplex form): L = c + exp(t1*r1 + t2*r2 + t3*r3)."""
    n = int_option("data-mixture", "n", n, 1, _MAX_DOMAINS)
    simplex = bool_option("data-mixture", "simplex", simplex)
    rs, ts = _names(n)
    terms = " + ".join(f"{t}*{r}" for r, t in zip(rs, ts))
    params = [Param("c", _C_GRID, 0.0, np.inf, log=True, doc="loss floor of this validation domain")]
    if not simplex:
        params.append(Param("k", _K_GRID, 0.0, np.inf, log=True, doc="scale of the mixture term"))
    params += [Param(t, _T_GRID, -50.0, 50.0, doc=f"effect of training-domain proportion {r}") for r, t in zip(rs, ts)]
    return Law(
        name="data-mixture",
        equation=f"L = c + {'' if simplex else 'k*'}exp({terms})",
        source="Ye et al. 2024, Data Mixing Laws: Optimizing Data Mixtures by Predicting Language Modeling "
        "Performance",
        inputs=rs,
        params=tuple(params),
        formula=lambda x, p: _formula(x, p, rs, ts, simplex),
        gradient=lambda x, p: _gradient(x, p, rs, ts, simplex),
        derived={f"loss_pure_{j}": Derived(_pure(t), f"loss when training only on domain {j}")
                 for j, t in enumerate(ts, start=1)} if simplex else {},
        options={"n": n, "simplex": simplex},
        along=AXIS,
        description=f"Loss of one validation domain against the proportions {', '.join(rs)} of {n} training domains "
        "(columns r1, r2, ...). Fit one law per validation domain; several at once with --target-glob 'loss_*' "
        "(one result, predicted together). "
        + ("Simplex form: k is folded into the t_j (proportions sum to 1)." if simplex else "Free scale k."),
    )


@register("data-mixture-linear")
def data_mixture_linear(n: int = 3, simplex: bool = True) -> Law:
    """With the defaults (n=3, simplex form): L = t1*r1 + t2*r2 + t3*r3."""
    n = int_option("data-mixture-linear", "n", n, 1, _MAX_DOMAINS)
    simplex = bool_option("data-mixture-linear", "simplex", simplex)
    rs, ts = _names(n)
    terms = " + ".join(f"{t}*{r}" for r, t in zip(rs, ts))
    params = [] if simplex else [Param("c", (0.0, 2.0), doc="intercept (proportions not on the simplex)")]
    params += [Param(t, (0.5, 2.0, 4.0), doc=f"loss when training only on the domain of {r}" if simplex else
                     f"effect of training-domain proportion {r}") for r, t in zip(rs, ts)]

    def formula(x, p):
        return (0.0 if simplex else p["c"]) + _exponent(x, p, rs, ts)

    def gradient(x, p):
        return {**({} if simplex else {"c": 1.0}), **{t: x[r] for r, t in zip(rs, ts)}}

    return Law(
        name="data-mixture-linear",
        equation=f"L = {'' if simplex else 'c + '}{terms}",
        source="Liu et al. 2024, RegMix: Data Mixture as Regression for Language Model Pre-training (linear "
        "regression)",
        inputs=rs,
        params=tuple(params),
        formula=formula,
        gradient=gradient,
        options={"n": n, "simplex": simplex},
        along=AXIS,
        positive_target=False,
        description=f"Loss of one validation domain, linear in the proportions {', '.join(rs)} of {n} training "
        "domains: the baseline the exponential data-mixing law (data-mixture) should beat when the loss curves in "
        "the mixture.",
    )
