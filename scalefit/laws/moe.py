"""Mixture-of-experts law in dense size and expert count (Clark et al. 2022, "Unified Scaling Laws for
Routed Language Models", Eq. 1: the bilinear fit in log N and log E).

    log L = a log N + b log E + c log N log E + d,   i.e.   L = exp(a*log(N) + b*log(E) + c*log(N)*log(E) + d)

N is the parameter count of the dense model each expert copies (the compute per token), E the number
of experts (E = 1 is the dense model itself). The interaction c makes the benefit of experts, the
slope b + c log N in log E, shrink as the dense model grows. Logarithms here are natural; a fit
published with log base k converts as a, b unchanged, c -> c / ln k, d -> d ln k.

Derived:
    N_cutoff = exp(-b/c)                   the dense size at which more experts stop helping (b + c log N = 0)
    expert_slope(N) = b + c log N          d log L / d log E at size N
    N_eff(N, E) = N^(1 + (b log E + c log N log E)/(a log N))   the effective parameter count: the dense size
                                           with the same loss (Clark et al.'s EPC idea, here for this fit)

The saturating-expert variant of the paper (Ê, with E_start, E_max) is not provided: its published
constants could not be checked here.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

_A_GRID = (-0.15, -0.05)
_B_GRID = (-0.15, -0.05)
_C_GRID = (-0.005, 0.005)
_D_GRID = (0.0, 2.0, 4.0)


def _logs(x):
    return np.log(x["N"]), np.log(x["E"])


def formula(x, p):
    """L = exp(a log N + b log E + c log N log E + d)."""
    ln, le = _logs(x)
    return np.exp(p["a"] * ln + p["b"] * le + p["c"] * ln * le + p["d"])


def gradient(x, p):
    """dL/dparam = L * d(log L)/dparam."""
    ln, le = _logs(x)
    y = formula(x, p)
    return {"a": y * ln, "b": y * le, "c": y * ln * le, "d": y}


def n_cutoff(p):
    """Dense size N at which the expert slope b + c log N reaches 0 (NaN when c <= 0: experts always help)."""
    with np.errstate(all="ignore"):
        return np.where(p["c"] > 0, np.exp(-p["b"] / p["c"]), np.nan)


def expert_slope(p, N):  # noqa: N803 (the paper's symbols)
    """d log L / d log E at dense size N: b + c log N."""
    return p["b"] + p["c"] * np.log(np.asarray(N, dtype=float))


def n_eff(p, N, E):  # noqa: N803
    """The dense parameter count with the same predicted loss as N with E experts."""
    ln, le = np.log(np.asarray(N, dtype=float)), np.log(np.asarray(E, dtype=float))
    return np.exp(ln + (p["b"] * le + p["c"] * ln * le) / p["a"])


@register("moe")
def moe() -> Law:
    return Law(
        name="moe",
        equation="L = exp(a*log(N) + b*log(E) + c*log(N)*log(E) + d)",
        source="Clark et al. 2022, Unified Scaling Laws for Routed Language Models (Eq. 1)",
        inputs=("N", "E"),
        params=(
            Param("a", _A_GRID, -2.0, 2.0, doc="dense-size exponent (log L per log N at E = 1)"),
            Param("b", _B_GRID, -2.0, 2.0, doc="expert exponent (log L per log E at N = 1)"),
            Param("c", _C_GRID, -1.0, 1.0, doc="interaction: change of the expert slope per log N"),
            Param("d", _D_GRID, -50.0, 50.0, doc="log loss at N = E = 1 (intercept)"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "N_cutoff": Derived(n_cutoff, "dense size where more experts stop helping: exp(-b/c)"),
            "expert_slope": Derived(expert_slope, "d log L / d log E at dense size N", needs=("N",)),
            "N_eff": Derived(n_eff, "dense size with the same loss as N with E experts", needs=("N", "E")),
        },
        description="Routed (mixture-of-experts) models: N is the dense size each expert copies (column n_params), "
        "E the expert count (column num_experts or E; E = 1 is dense). Linear in log space, natural logs.",
    )
