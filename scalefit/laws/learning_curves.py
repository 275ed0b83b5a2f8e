"""Learning-curve estimators M1-M4 (Alabdulmohsin, Neyshabur and Zhai 2022, "Revisiting Neural Scaling
Laws in Language and Vision", NeurIPS 2022, Sec. 2, Eqs. 1-4).

    M1:  L = beta*D^c                                      power law (c < 0)
    M2:  L = beta*D^c + eps_inf                            with an irreducible error eps_inf
    M3:  L = beta*(D^(-1) + gamma)^c                       a power law that saturates at beta gamma^c (c > 0)
    M4:  (L - eps_inf)/(eps_0 - L)^alpha = beta*D^c        implicit: sigmoid-like in log D between eps_0 and eps_inf

L is the error or loss and D the data size (the symbol is the factory option x, default D; any symbol
works, e.g. ``get_law("alabdulmohsin-m2", x="N")``). In M4 the error falls from eps_0 (the random-guess
error) towards eps_inf, a power law in D once it is well below eps_0; alpha sets how slowly it leaves
eps_0. M4 has no closed form: its prediction is the root of
    g(L) = log(L - eps_inf) - alpha log(eps_0 - L) - log beta - c log D,
increasing in L on (eps_inf, eps_0), found by :mod:`scalefit.laws.implicit` (safeguarded Newton), with the
gradient from the implicit function theorem. Parameter sets with eps_0 <= eps_inf are invalid (NaN).

Derived, for each: D_at_loss(L), the data size at which the law reaches loss L (NaN where it never does).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import symbol_option
from scalefit.laws.implicit import Implicit
from scalefit.laws.registry import TINY, nests, register

SOURCE = "Alabdulmohsin et al. 2022, Revisiting Neural Scaling Laws in Language and Vision"
_BETA_GRID = (1.0, 10.0, 100.0, 1e3, 1e4)
_C_NEG_GRID = (-0.05, -0.1, -0.2, -0.4, -0.8)
_C_POS_GRID = (0.05, 0.1, 0.2, 0.4, 0.8)
_EPS_GRID = (0.01, 0.1, 0.5, 1.0, 2.0)
_GAMMA_GRID = (1e-12, 1e-9, 1e-6, 1e-3)
_RESERVED = ("beta", "c", "eps_inf", "eps_0", "gamma", "alpha", "L")


def _beta(doc="scale of the power law"):
    return Param("beta", _BETA_GRID, 0.0, np.inf, log=True, doc=doc)


def _c_neg(grid=_C_NEG_GRID):
    return Param("c", grid, -5.0, 0.0, doc="scaling exponent (negative: the error falls with data)")


def _eps_inf(grid=_EPS_GRID):
    return Param("eps_inf", grid, 0.0, np.inf, log=True, doc="limiting error with unbounded data")


def _inverse(fn):
    def at_loss(p, L):  # noqa: N803 (the paper's symbols)
        with np.errstate(all="ignore"):
            out = np.asarray(fn(p, np.asarray(L, dtype=float)), dtype=float)
            return np.where(np.isfinite(out) & (out > 0), out, np.nan)
    return at_loss


def _law(name, eq, sym, params, formula, gradient, inverse, doc):
    return Law(
        name=name,
        equation=eq.replace("D", sym),
        source=f"{SOURCE} ({name[-2:].upper()})",
        inputs=(sym,),
        params=params,
        formula=formula,
        gradient=gradient,
        derived={f"{sym}_at_loss": Derived(_inverse(inverse), f"the {sym} at which the law reaches loss L",
                                           needs=("L",))},
        options={"x": sym},
        description=f"{doc} Here x = {sym} (option x).",
    )


@register("alabdulmohsin-m1")
def m1(x: str = "D") -> Law:
    """M1 with the default x=D: L = beta*D^c."""
    sym = symbol_option("alabdulmohsin-m1", "x", x, _RESERVED)

    def formula(xs, p):
        return p["beta"] * np.exp(p["c"] * np.log(xs[sym]))

    def gradient(xs, p):
        lx = np.log(xs[sym])
        t = np.exp(p["c"] * lx)
        return {"beta": t, "c": p["beta"] * t * lx}

    return _law("alabdulmohsin-m1", "L = beta*D^c", sym, (_beta(), _c_neg()), formula, gradient,
                lambda p, L: (L / p["beta"]) ** (1.0 / p["c"]), "Pure power law of the error (M1).")


@register("alabdulmohsin-m2")
def m2(x: str = "D") -> Law:
    """M2 with the default x=D: L = beta*D^c + eps_inf."""
    sym = symbol_option("alabdulmohsin-m2", "x", x, _RESERVED)

    def formula(xs, p):
        return p["beta"] * np.exp(p["c"] * np.log(xs[sym])) + p["eps_inf"]

    def gradient(xs, p):
        lx = np.log(xs[sym])
        t = np.exp(p["c"] * lx)
        return {"beta": t, "c": p["beta"] * t * lx, "eps_inf": 1.0}

    return _law("alabdulmohsin-m2", "L = beta*D^c + eps_inf", sym, (_beta(), _c_neg(), _eps_inf()), formula,
                gradient, lambda p, L: ((L - p["eps_inf"]) / p["beta"]) ** (1.0 / p["c"]),
                "Power law plus an irreducible error (M2).")


@register("alabdulmohsin-m3")
def m3(x: str = "D") -> Law:
    """M3 with the default x=D: L = beta*(D^(-1) + gamma)^c."""
    sym = symbol_option("alabdulmohsin-m3", "x", x, _RESERVED)

    def formula(xs, p):
        return p["beta"] * np.exp(p["c"] * np.log(1.0 / xs[sym] + p["gamma"]))

    def gradient(xs, p):
        inner = 1.0 / xs[sym] + p["gamma"]
        t = p["beta"] * np.exp(p["c"] * np.log(inner))
        return {"beta": t / p["beta"], "c": t * np.log(inner), "gamma": t * p["c"] / inner}

    params = (_beta(), Param("c", _C_POS_GRID, 0.0, 5.0, doc="scaling exponent (positive, on 1/x + gamma)"),
              Param("gamma", _GAMMA_GRID, 0.0, np.inf, log=True, doc="saturation: the error tends to beta gamma^c"))
    return _law("alabdulmohsin-m3", "L = beta*(D^(-1) + gamma)^c", sym, params, formula, gradient,
                lambda p, L: 1.0 / ((L / p["beta"]) ** (1.0 / p["c"]) - p["gamma"]),
                "Power law in 1/x + gamma that saturates (M3).")


def _m4_implicit(sym):
    def residual(y, xs, p):
        return (np.log(y - p["eps_inf"]) - p["alpha"] * np.log(p["eps_0"] - y) - np.log(p["beta"])
                - p["c"] * np.log(xs[sym]))

    def dg_dy(y, xs, p):
        return 1.0 / (y - p["eps_inf"]) + p["alpha"] / (p["eps_0"] - y)

    def dg_dp(y, xs, p):
        return {"beta": -1.0 / p["beta"], "c": -np.log(xs[sym]), "alpha": -np.log(p["eps_0"] - y),
                "eps_inf": -1.0 / (y - p["eps_inf"]), "eps_0": -p["alpha"] / (p["eps_0"] - y)}

    def start(xs, p):  # exact for alpha = 1: w / (b - w) = s with w = L - eps_inf, b = eps_0 - eps_inf
        b = p["eps_0"] - p["eps_inf"]
        s = p["beta"] * np.exp(p["c"] * np.log(xs[sym])) * b ** (p["alpha"] - 1.0)
        return p["eps_inf"] + b * s / (1.0 + s)

    return Implicit(residual, dg_dy, dg_dp, lambda xs, p: (p["eps_inf"], p["eps_0"]), start)


@register("alabdulmohsin-m4")
def m4(x: str = "D") -> Law:
    """M4 with the default x=D: (L - eps_inf)/(eps_0 - L)^alpha = beta*D^c."""
    sym = symbol_option("alabdulmohsin-m4", "x", x, _RESERVED)
    imp = _m4_implicit(sym)
    params = (
        _beta("scale of the power law in the normalised excess error"),
        _c_neg((-0.1, -0.3, -0.8)),
        Param("alpha", (0.2, 1.0, 3.0), 0.0, 20.0, doc="how slowly the error leaves eps_0"),
        _eps_inf((0.05, 0.5, 1.5)),
        Param("eps_0", (1.0, 3.0, 9.0), 0.0, np.inf, log=True, doc="error with no data (random guessing)"),
    )
    return _law("alabdulmohsin-m4", "(L - eps_inf)/(eps_0 - L)^alpha = beta*D^c", sym, params, imp.formula,
                imp.gradient,
                lambda p, L: ((L - p["eps_inf"]) / ((p["eps_0"] - L) ** p["alpha"] * p["beta"])) ** (1.0 / p["c"]),
                "Implicit sigmoid-like learning curve between eps_0 and eps_inf (M4), solved for L by a "
                "bracketed root finder.")


def _same_x(options):
    return {"x": options.get("x", "D")}


def _m4_from_m2(p, x):
    """M2 as M4: alpha = 0, and eps_0 (which then only bounds the root) above every prediction on the rows."""
    xs = np.asarray(next(iter(x.values())), dtype=float)
    with np.errstate(all="ignore"):
        top = float(np.nanmax(p["eps_inf"] + p["beta"] * np.exp(p["c"] * np.log(xs))))
    return {**p, "alpha": 0.0, "eps_0": 2.0 * top if np.isfinite(top) and top > 0 else np.nan}


nests("alabdulmohsin-m2", "alabdulmohsin-m1", options=_same_x, embed=lambda p, x: {**p, "eps_inf": TINY})
nests("alabdulmohsin-m3", "alabdulmohsin-m1", options=_same_x,
      embed=lambda p, x: {"beta": p["beta"], "c": -p["c"], "gamma": TINY})
nests("alabdulmohsin-m4", "alabdulmohsin-m2", options=_same_x, embed=_m4_from_m2)
