"""Over-training law (Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv:2403.08540, Eq. 4).

    L(C, M) = E + (a M^eta + b M^-eta) C^-eta,    C = 6ND FLOPs,  M = D/N tokens per parameter

For a fixed token multiplier M the reducible loss is a power law in compute with the same exponent
eta for every M, so the curves of log(L - E) against log C are parallel lines, offset by M.
The law is the Chinchilla form with equal exponents: with C = 6ND and M = D/N,
    L = E + a 6^-eta N^(-2 eta) + b 6^-eta D^(-2 eta),
i.e. Chinchilla's A = a 6^-eta, B = b 6^-eta, alpha = beta = 2 eta.

Derived quantities. At fixed C the loss is smallest at the compute-optimal multiplier
    M* = (b / a)^(1 / (2 eta))        (independent of C),
so N*(C) = sqrt(C / (6 M*)), D*(C) = M* N*(C) and L*(C) = E + 2 sqrt(a b) C^-eta.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

# Start grid (5 x 6 x 6 x 5 = 900 points) bracketing the paper's constants (e.g. RedPajama, C4 eval loss:
# E = 1.84, a = 212, b = 367, eta = 0.136).
_E_GRID = (0.5, 1.0, 1.5, 2.0, 3.0)
_AB_GRID = (3.0, 30.0, 100.0, 300.0, 1000.0, 1e4)
_ETA_GRID = (0.05, 0.1, 0.15, 0.2, 0.3)


def formula(x, p):
    """L = E + (a M^eta + b M^-eta) C^-eta (vectorised over parameter sets)."""
    log_c, log_m = np.log(x["C"]), np.log(x["M"])
    eta = p["eta"]
    return p["E"] + p["a"] * np.exp(eta * (log_m - log_c)) + p["b"] * np.exp(-eta * (log_m + log_c))


def gradient(x, p):
    """Partial derivatives of the formula with respect to E, a, b, eta."""
    log_c, log_m = np.log(x["C"]), np.log(x["M"])
    eta = p["eta"]
    ta = np.exp(eta * (log_m - log_c))
    tb = np.exp(-eta * (log_m + log_c))
    return {
        "E": 1.0,
        "a": ta,
        "b": tb,
        "eta": p["a"] * ta * (log_m - log_c) - p["b"] * tb * (log_m + log_c),
    }


def m_opt(p):
    """Compute-optimal tokens per parameter M* = (b/a)^(1/(2 eta)), the same for every budget."""
    return (p["b"] / p["a"]) ** (1.0 / (2.0 * p["eta"]))


def n_opt(p, C):
    """Compute-optimal parameters N*(C) = sqrt(C / (6 M*))."""
    return np.sqrt(np.asarray(C, dtype=float) / (6.0 * m_opt(p)))


def d_opt(p, C):
    """Compute-optimal tokens D*(C) = M* N*(C)."""
    return m_opt(p) * n_opt(p, C)


def tokens_per_param(p, C):
    """D*/N* at the optimum (= M*, independent of C; broadcast against C)."""
    return m_opt(p) * np.ones_like(np.asarray(C, dtype=float))


def loss_opt(p, C):
    """Loss at the compute-optimal allocation: E + 2 sqrt(a b) C^-eta."""
    return p["E"] + 2.0 * np.sqrt(p["a"] * p["b"]) * np.asarray(C, dtype=float) ** (-p["eta"])


def chinchilla_A(p):
    """The equivalent Chinchilla coefficient A = a 6^-eta (with alpha = beta = 2 eta)."""
    return p["a"] * 6.0 ** (-p["eta"])


def chinchilla_B(p):
    """The equivalent Chinchilla coefficient B = b 6^-eta (with alpha = beta = 2 eta)."""
    return p["b"] * 6.0 ** (-p["eta"])


@register("overtrain")
def overtrain() -> Law:
    return Law(
        name="overtrain",
        equation="L = E + (a*M^eta + b*M^-eta) * C^-eta",
        source="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks (Eq. 4)",
        inputs=("C", "M"),
        params=(
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
            Param("a", _AB_GRID, 0.0, np.inf, log=True, doc="coefficient of the M^eta (model-size) term"),
            Param("b", _AB_GRID, 0.0, np.inf, log=True, doc="coefficient of the M^-eta (data) term"),
            Param("eta", _ETA_GRID, 0.0, 2.0, doc="compute exponent, shared by every token multiplier M"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "M_opt": Derived(m_opt, "compute-optimal tokens per parameter M* = (b/a)^(1/(2 eta))"),
            "A": Derived(chinchilla_A, "equivalent Chinchilla A = a 6^-eta (alpha = beta = 2 eta)"),
            "B": Derived(chinchilla_B, "equivalent Chinchilla B = b 6^-eta (alpha = beta = 2 eta)"),
            "N_opt": Derived(n_opt, "compute-optimal parameters N*(C) = sqrt(C/(6 M*))", needs=("C",)),
            "D_opt": Derived(d_opt, "compute-optimal tokens D*(C) = M* N*(C)", needs=("C",)),
            "tokens_per_param": Derived(tokens_per_param, "D*/N* at the optimum (= M*)", needs=("C",)),
            "loss_opt": Derived(loss_opt, "loss at the compute-optimal allocation", needs=("C",)),
        },
        description=(
            "Inputs C (FLOPs) and M (tokens per parameter) resolve from N and D by C = 6ND, M = D/N. "
            "E, a, b are optimised in log space. Loss at any (N, M) is the formula with C = 6 M N^2."
        ),
    )
