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

With ``--opt saturating=true`` E enters through the paper's saturating transformation (Clark et al. Eq. 7)

    Ê = 1 / (1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max)

which is about E - 1 + E_start for few experts and approaches E_max for many: the benefit of more experts
levels off. E_start and E_max are fitted (E_start < E_max). The paper's own constants are not checked here
(its tables could not be verified offline); the form is tested by its limits and by recovery.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import bool_option
from scalefit.laws.registry import register

_A_GRID = (-0.15, -0.05)
_B_GRID = (-0.15, -0.05)
_C_GRID = (-0.005, 0.005)
_D_GRID = (0.0, 2.0, 4.0)


def saturated(E, e_start, e_max):  # noqa: N803 (the paper's symbols)
    """Clark et al.'s saturating expert count Ê(E); NaN unless 0 < E_start < E_max."""
    with np.errstate(all="ignore"):
        k = np.where((e_start > 0) & (e_max > e_start), e_start * e_max / (e_max - e_start), np.nan)
        return 1.0 / (1.0 / (np.asarray(E, dtype=float) - 1.0 + k) + 1.0 / e_max)


def _logs(x, p):
    le = np.log(saturated(x["E"], p["E_start"], p["E_max"])) if "E_start" in p else np.log(x["E"])
    return np.log(x["N"]), le


def formula(x, p):
    """L = exp(a log N + b log E + c log N log E + d) (E -> Ê when saturating)."""
    ln, le = _logs(x, p)
    return np.exp(p["a"] * ln + p["b"] * le + p["c"] * ln * le + p["d"])


def gradient(x, p):
    """dL/dparam = L * d(log L)/dparam."""
    ln, le = _logs(x, p)
    y = formula(x, p)
    out = {"a": y * ln, "b": y * le, "c": y * ln * le, "d": y}
    if "E_start" in p:
        s, m = p["E_start"], p["E_max"]
        e_hat = np.exp(le)
        u = x["E"] - 1.0 + s * m / (m - s)
        slope = y * (p["b"] + p["c"] * ln) * e_hat / (u * u)  # dL/dlog Ê * dÊ/du / Ê
        out["E_start"] = slope * m * m / (m - s) ** 2
        out["E_max"] = slope * (-s * s / (m - s) ** 2) + y * (p["b"] + p["c"] * ln) * e_hat / (m * m)
    return out


def n_cutoff(p):
    """Dense size N at which the expert slope b + c log N reaches 0 (NaN when c <= 0: experts always help)."""
    with np.errstate(all="ignore"):
        return np.where(p["c"] > 0, np.exp(-p["b"] / p["c"]), np.nan)


def expert_slope(p, N):  # noqa: N803 (the paper's symbols)
    """d log L / d log E at dense size N: b + c log N."""
    return p["b"] + p["c"] * np.log(np.asarray(N, dtype=float))


def n_eff(p, N, E):  # noqa: N803
    """The dense parameter count with the same predicted loss as N with E experts."""
    ln, le = _logs({"N": np.asarray(N, dtype=float), "E": np.asarray(E, dtype=float)}, p)
    if "E_start" in p:  # the dense model (E = 1) has Ê = E_start, not 1
        le1 = np.log(saturated(1.0, p["E_start"], p["E_max"]))
        dense = p["a"] * ln + p["b"] * le1 + p["c"] * ln * le1
        target = p["a"] * ln + p["b"] * le + p["c"] * ln * le
        return np.exp((target - p["b"] * le1) / (p["a"] + p["c"] * le1)) if np.all(np.isfinite(dense)) else np.nan
    return np.exp(ln + (p["b"] * le + p["c"] * ln * le) / p["a"])


_SATURATION = (
    Param("E_start", (1.5, 5.0), 1e-3, 1e3, log=True, doc="saturating form: Ê at E = 1 (where saturation starts)"),
    Param("E_max", (64.0, 512.0), 1.0, 1e6, log=True, doc="saturating form: the expert count Ê approaches"),
)


@register("moe")
def moe(saturating: object = False) -> Law:
    sat = bool_option("moe", "saturating", saturating)
    e = "Ê" if sat else "E"
    return Law(
        name="moe",
        equation=f"L = exp(a*log(N) + b*log({e}) + c*log(N)*log({e}) + d)"
        + (", Ê = 1/(1/(E - 1 + (1/E_start - 1/E_max)^-1) + 1/E_max)" if sat else ""),
        source="Clark et al. 2022, Unified Scaling Laws for Routed Language Models (Eq. 1"
        + ("; saturating Ê, Eq. 7)" if sat else ")"),
        inputs=("N", "E"),
        params=(
            Param("a", _A_GRID, -2.0, 2.0, doc="dense-size exponent (log L per log N at E = 1)"),
            Param("b", _B_GRID, -2.0, 2.0, doc="expert exponent (log L per log E at N = 1)"),
            Param("c", _C_GRID, -1.0, 1.0, doc="interaction: change of the expert slope per log N"),
            Param("d", _D_GRID, -50.0, 50.0, doc="log loss at N = E = 1 (intercept)"),
            *(_SATURATION if sat else ()),
        ),
        options={"saturating": sat} if sat else {},
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
