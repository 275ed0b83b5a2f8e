"""Power law with an irreducible term in one symbol: L = E + A x^-alpha.

    L(x) = E + A*x^(-alpha)

The saturating power law of Hestness et al. 2017 ("Deep Learning Scaling is Predictable,
Empirically") and Kaplan et al. 2020 ("Scaling Laws for Neural Language Models", e.g.
L(C) = (C_c/C)^alpha_C, the E = 0 case), and the one-variable slice of Hoffmann et al. 2022.
The symbol x is a factory option: ``get_law("power", x="N")`` fits loss against parameters,
the default ``x="C"`` against training compute. Any symbol works: one of the aliased symbols
(N, D, C, M, lr, B, width, depth, step) or the exact name of a column.

E and A are optimised as their logarithms; alpha is bounded to [0, 5].

Derived: x_at_loss(L) = (A / (L - E))^(1/alpha), the x at which the law reaches loss L
(NaN for L <= E, which the law never reaches).
"""

from __future__ import annotations

import keyword

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

_E_GRID = tuple(float(np.exp(v)) for v in (-1.0, -0.5, 0.0, 0.5, 1.0))
_A_GRID = tuple(float(np.exp(v)) for v in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0))
_ALPHA_GRID = (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0)
_RESERVED = ("E", "A", "alpha", "L")


def _formula(x, p, sym):
    return p["E"] + p["A"] * np.exp(-p["alpha"] * np.log(x[sym]))


def _gradient(x, p, sym):
    log_x = np.log(x[sym])
    t = np.exp(-p["alpha"] * log_x)
    return {"E": 1.0, "A": t, "alpha": -p["A"] * t * log_x}


def x_at_loss(p, L):
    """The x at which E + A x^-alpha equals L (NaN where L <= E)."""
    gap = np.asarray(L, dtype=float) - p["E"]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 0, (p["A"] / np.where(gap > 0, gap, 1.0)) ** (1.0 / p["alpha"]), np.nan)


def _check_symbol(x: object) -> str:
    if not isinstance(x, str) or not x.isidentifier() or keyword.iskeyword(x):
        raise LawError(f"law 'power': x must be a symbol name such as 'C', 'N' or 'D' (an identifier), got {x!r}")
    if x in _RESERVED:
        raise LawError(
            f"law 'power': x={x!r} clashes with the law's own names {list(_RESERVED)} (parameters E, A, alpha "
            "and target L); map the column to another symbol, e.g. x='N' with --map N=COLUMN"
        )
    return x


@register("power")
def power(x: str = "C") -> Law:
    sym = _check_symbol(x)
    return Law(
        name="power",
        equation="L = E + A*x^(-alpha)",
        source="Hestness et al. 2017, Deep Learning Scaling is Predictable, Empirically; "
        "Kaplan et al. 2020, Scaling Laws for Neural Language Models",
        inputs=(sym,),
        params=(
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
            Param("A", _A_GRID, 0.0, np.inf, log=True, doc=f"coefficient of the {sym} term"),
            Param("alpha", _ALPHA_GRID, 0.0, 5.0, doc=f"exponent of {sym}"),
        ),
        formula=lambda xs, p: _formula(xs, p, sym),
        gradient=lambda xs, p: _gradient(xs, p, sym),
        derived={"x_at_loss": Derived(x_at_loss, f"the {sym} at which the law reaches loss L", needs=("L",))},
        options={"x": sym},
        description=f"One-variable saturating power law, here x = {sym}; choose the symbol with the option x "
        "(get_law('power', x='N')). E and A are fitted as logarithms.",
    )
