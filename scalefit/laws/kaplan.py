"""Kaplan law (Kaplan et al. 2020, "Scaling Laws for Neural Language Models", Eq. 1.5 / 4.1).

    L(N, D) = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D

N is the number of non-embedding parameters and D the number of training tokens. With infinite
data it reduces to L(N) = (N_c/N)^alpha_N (Eq. 1.1), with an infinitely large model to
L(D) = (D_c/D)^alpha_D (Eq. 1.2). The paper's joint fit (Table 2) is alpha_N = 0.076,
alpha_D = 0.103, N_c = 6.4e13, D_c = 1.8e13 (loss in nats, WebText2); the separate fits give
alpha_N = 0.076, N_c = 8.8e13 and alpha_D = 0.095, D_c = 5.4e13.

N_c and D_c are optimised as their logarithms; the formula is evaluated in log space
(log-sum-exp) so that extreme constants do not overflow.

Derived quantities (Section 4.2):
    overfit_exponent = alpha_N / alpha_D           data must grow as N^(alpha_N/alpha_D) (paper: 0.74)
    overfit_penalty(N, D) = L(N, D) / L(N, inf) - 1 = [1 + (N/N_c)^(alpha_N/alpha_D) D_c/D]^alpha_D - 1
    D_crit(N) = D_c (N/N_c)^(alpha_N/alpha_D) / (1.02^(1/alpha_D) - 1)
        the tokens that keep the over-fitting penalty at 2% (Eq. 4.4: D >~ 5e3 N^0.74)
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

# Start grid around the paper's values; N_c, D_c move by orders of magnitude with the exponents.
_ALPHA_N_GRID = (0.04, 0.076, 0.15, 0.3)
_ALPHA_D_GRID = (0.05, 0.095, 0.19, 0.38)
_SCALE_GRID = (1e9, 1e11, 1e13, 1e15, 1e17)
OVERFIT_TOLERANCE = 0.02  # Kaplan et al. Section 4.2: keep L(N, D)/L(N, inf) - 1 below 2%


def _parts(x, p):
    """log u, log v, log S with u = (N_c/N)^(alpha_N/alpha_D), v = D_c/D, S = u + v."""
    ratio = p["alpha_N"] / p["alpha_D"]
    log_nc = np.log(p["N_c"]) - np.log(x["N"])
    log_u = ratio * log_nc
    log_v = np.log(p["D_c"]) - np.log(x["D"])
    return log_nc, log_u, log_v, np.logaddexp(log_u, log_v)


def formula(x, p):
    """L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D (vectorised over parameter sets)."""
    _, _, _, log_s = _parts(x, p)
    return np.exp(p["alpha_D"] * log_s)


def gradient(x, p):
    """Partial derivatives of the formula with respect to each parameter (natural units)."""
    log_nc, log_u, _, log_s = _parts(x, p)
    L = np.exp(p["alpha_D"] * log_s)
    w = np.exp(log_u - log_s)  # u / S, in [0, 1]
    return {
        "N_c": p["alpha_N"] * L * w / p["N_c"],
        "D_c": p["alpha_D"] * L * (1.0 - w) / p["D_c"],
        "alpha_N": L * w * log_nc,
        "alpha_D": L * (log_s - w * log_u),
    }


def overfit_exponent(p):
    """alpha_N / alpha_D: to avoid over-fitting, D must grow as N^(alpha_N/alpha_D)."""
    return p["alpha_N"] / p["alpha_D"]


def loss_n(p, N):
    """L(N) = (N_c/N)^alpha_N, the infinite-data limit."""
    return (p["N_c"] / np.asarray(N, dtype=float)) ** p["alpha_N"]


def loss_d(p, D):
    """L(D) = (D_c/D)^alpha_D, the infinite-model limit."""
    return (p["D_c"] / np.asarray(D, dtype=float)) ** p["alpha_D"]


def overfit_penalty(p, N, D):
    """L(N, D) / L(N, inf) - 1."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    return (1.0 + (N / p["N_c"]) ** overfit_exponent(p) * p["D_c"] / D) ** p["alpha_D"] - 1.0


def d_crit(p, N):
    """Tokens D at which the over-fitting penalty of an N-parameter model is 2% (Eq. 4.4)."""
    N = np.asarray(N, dtype=float)
    excess = (1.0 + OVERFIT_TOLERANCE) ** (1.0 / p["alpha_D"]) - 1.0
    return p["D_c"] * (N / p["N_c"]) ** overfit_exponent(p) / excess


@register("kaplan")
def kaplan() -> Law:
    return Law(
        name="kaplan",
        equation="L = [(N_c/N)^(alpha_N/alpha_D) + D_c/D]^alpha_D",
        source="Kaplan et al. 2020, Scaling Laws for Neural Language Models (Eq. 1.5)",
        inputs=("N", "D"),
        params=(
            Param("N_c", _SCALE_GRID, 0.0, np.inf, log=True, doc="model-size scale (parameters)"),
            Param("D_c", _SCALE_GRID, 0.0, np.inf, log=True, doc="data scale (tokens)"),
            Param("alpha_N", _ALPHA_N_GRID, 1e-4, 3.0, doc="model-size exponent (paper: 0.076)"),
            Param("alpha_D", _ALPHA_D_GRID, 1e-4, 3.0, doc="data exponent (paper: 0.095 alone, 0.103 jointly)"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "overfit_exponent": Derived(overfit_exponent, "D must grow as N^(alpha_N/alpha_D) (paper: 0.74)"),
            "L_N": Derived(loss_n, "infinite-data loss (N_c/N)^alpha_N", needs=("N",)),
            "L_D": Derived(loss_d, "infinite-model loss (D_c/D)^alpha_D", needs=("D",)),
            "overfit_penalty": Derived(overfit_penalty, "L(N, D)/L(N, inf) - 1", needs=("N", "D")),
            "D_crit": Derived(d_crit, "tokens keeping the over-fitting penalty at 2% (Eq. 4.4)", needs=("N",)),
        },
        description="No irreducible loss term. N should count non-embedding parameters, as in the paper. "
        "Fitted with log N_c, log D_c; the formula is evaluated as a log-sum-exp.",
    )
