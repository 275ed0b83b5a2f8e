"""Broken neural scaling law (Caballero et al. 2023, "Broken Neural Scaling Laws", ICLR 2023, Eq. 1).

    y = a + b*x^(-c0)*(1 + (x/d1)^(1/f1))^(-c1*f1)                       (one break, the default)
    y = a + b x^-c0 prod_i (1 + (x/d_i)^(1/f_i))^(-c_i f_i),  i = 1..n    (``breaks=2``: two breaks)

A power law with exponent c0 that bends at each break d_i into one with exponent c0 + c_i, the bend
being sharp for small f_i and gradual for large f_i. a is the limit as x grows (c0 + sum c_i > 0);
c_i < 0 lets the curve flatten or turn (e.g. double descent). The symbol x is the factory option x
(default D), as for ``power``.

The formula is evaluated in log space, log(y - a) = log b - c0 log x - sum c_i f_i softplus((log x -
log d_i)/f_i), so extreme breaks neither overflow nor underflow. a, b, d_i and f_i are fitted as their
logarithms; the start grid places breaks every two decades from 1e3 to 1e15 (a break outside the data
is not identifiable: its d and f drift, and the fit reports them on or near their bounds). With two
breaks the product is symmetric in them, so a fit may list them in either order; read them by d_i.

Derived: the asymptotic exponent c0 + sum c_i (the slope of log(y - a) against log x beyond the last break).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import int_option, symbol_option
from scalefit.laws.registry import nests, register

# one break: 3 x 4 x 3 x 4 x 7 x 3 = 3,024 starts; two breaks keep fewer values per parameter
_GRIDS = {
    1: dict(a=(0.05, 0.5, 2.0), b=(1.0, 30.0, 1e3, 3e4), c0=(0.05, 0.2, 0.5), c=(-0.2, 0.1, 0.3, 0.6),
            d=tuple(10.0**k for k in range(3, 16, 2)), f=(0.1, 0.5, 2.0)),
    2: dict(a=(0.1, 1.0), b=(3.0, 300.0, 3e4), c0=(0.05, 0.3), c=(-0.2, 0.3),
            d=tuple(10.0**k for k in range(3, 16, 3)), f=(0.3,)),
}
_RESERVED = ("a", "b", "c0", "c1", "c2", "d1", "d2", "f1", "f2", "L")


def _softplus_parts(lx, p, i):
    z = (lx - np.log(p[f"d{i}"])) / p[f"f{i}"]
    sp = np.logaddexp(0.0, z)
    return z, sp, np.exp(z - sp)  # z, softplus(z), sigmoid(z)


def _log_tail(lx, p, n):
    """log(y - a) = log b - c0 log x - sum c_i f_i softplus(z_i)."""
    out = np.log(p["b"]) - p["c0"] * lx
    for i in range(1, n + 1):
        out = out - p[f"c{i}"] * p[f"f{i}"] * _softplus_parts(lx, p, i)[1]
    return out


def _formula(x, p, sym, n):
    return p["a"] + np.exp(_log_tail(np.log(x[sym]), p, n))


def _gradient(x, p, sym, n):
    lx = np.log(x[sym])
    t = np.exp(_log_tail(lx, p, n))
    grad = {"a": 1.0, "b": t / p["b"], "c0": -t * lx}
    for i in range(1, n + 1):
        c, d, f = p[f"c{i}"], p[f"d{i}"], p[f"f{i}"]
        z, sp, sig = _softplus_parts(lx, p, i)
        grad[f"c{i}"] = -t * f * sp
        grad[f"d{i}"] = t * c * sig / d
        grad[f"f{i}"] = -t * c * (sp - sig * z)
    return grad


def _final_exponent(n):
    return lambda p: p["c0"] + sum(p[f"c{i}"] for i in range(1, n + 1))


def _params(n):
    g = _GRIDS[n]
    params = [
        Param("a", g["a"], 0.0, np.inf, log=True, doc="limit of y as x grows"),
        Param("b", g["b"], 0.0, np.inf, log=True, doc="scale of the power-law part"),
        Param("c0", g["c0"], -2.0, 5.0, doc="exponent before the first break"),
    ]
    for i in range(1, n + 1):
        params += [
            # +-10: published fits go past 5 (Caballero et al.'s 4-digit addition: c1 = 5.66)
            Param(f"c{i}", g["c"], -10.0, 10.0, doc=f"change of the exponent at break {i}"),
            Param(f"d{i}", g["d"], 0.0, np.inf, log=True, doc=f"location of break {i} (units of x)"),
            Param(f"f{i}", g["f"], 1e-3, 100.0, log=True, doc=f"sharpness of break {i} (small = sharp)"),
        ]
    return tuple(params)


@register("bnsl")
def bnsl(x: str = "D", breaks: int = 1) -> Law:
    """With the defaults (x=D, one break): L = a + b*D^(-c0)*(1 + (D/d1)^(1/f1))^(-c1*f1)."""
    sym = symbol_option("bnsl", "x", x, _RESERVED)
    n = int_option("bnsl", "breaks", breaks, 1, 2)
    eq = "y = a + b*x^(-c0)" + "".join(f"*(1 + (x/d{i})^(1/f{i}))^(-c{i}*f{i})" for i in range(1, n + 1))
    return Law(
        name="bnsl",
        equation=eq.replace("x", sym).replace("y =", "L ="),
        source="Caballero et al. 2023, Broken Neural Scaling Laws (Eq. 1)",
        inputs=(sym,),
        params=_params(n),
        formula=lambda xs, p: _formula(xs, p, sym, n),
        gradient=lambda xs, p: _gradient(xs, p, sym, n),
        derived={"final_exponent": Derived(_final_exponent(n), "exponent of L - a after the last break: c0 + sum c_i")},
        options={"x": sym, "breaks": n},
        description=f"Smoothly broken power law in x = {sym} with {n} break(s) (option breaks=1|2; option x picks "
        "the symbol). a, b, d_i, f_i are fitted as logarithms.",
    )


_NO_BREAK = {"d": 1e9, "f": 1.0}  # a break with c_i = 0 multiplies by 1 wherever it sits


def _one_break_fewer(options):
    return {"x": options.get("x", "D"), "breaks": 1} if options.get("breaks", 1) == 2 else None


def _power_in_x(options):
    return {"x": options.get("x", "D")} if options.get("breaks", 1) == 1 else None


nests("bnsl", "bnsl", options=_one_break_fewer, embed=lambda p, x: {**p, "c2": 0.0, "d2": _NO_BREAK["d"],
                                                                      "f2": _NO_BREAK["f"]})
nests("bnsl", "power", options=_power_in_x, embed=lambda p, x: {"a": p["E"], "b": p["A"], "c0": p["alpha"],
                                                                "c1": 0.0, "d1": _NO_BREAK["d"], "f1": _NO_BREAK["f"]})
