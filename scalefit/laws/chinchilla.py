"""Chinchilla law (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models", Approach 3).

    L(N, D) = E + A / N^alpha + B / D^beta

E, A and B are optimised as their logarithms (e, a, b), so the log-space residual is the
paper's log-sum-exp form ``LSE(a - alpha log N, b - beta log D, e) - log L``. The default
start grid is Hoffmann's 4,500 points: alpha, beta in {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1},
a, b in {0, 5, ..., 25}.

Compute-optimal allocation under C = 6ND (closed form, Hoffmann et al. Appendix D.2):
    N*(C) = G (C/6)^a,  D*(C) = G^-1 (C/6)^b,  G = (alpha A / (beta B))^(1/(alpha+beta)),
    a = beta / (alpha + beta),  b = alpha / (alpha + beta).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import TINY, nests, register

_EXP_GRID = (0.0, 0.5, 1.0, 1.5, 2.0)
_E_GRID = tuple(float(np.exp(v)) for v in (-1.0, -0.5, 0.0, 0.5, 1.0))
_AB_GRID = tuple(float(np.exp(v)) for v in (0.0, 5.0, 10.0, 15.0, 20.0, 25.0))


def formula(x, p):
    """L = E + A N^-alpha + B D^-beta (vectorised over parameter sets)."""
    return p["E"] + p["A"] * np.exp(-p["alpha"] * np.log(x["N"])) + p["B"] * np.exp(-p["beta"] * np.log(x["D"]))


def gradient(x, p):
    """Partial derivatives of the formula with respect to each parameter (natural units)."""
    log_n, log_d = np.log(x["N"]), np.log(x["D"])
    tn = np.exp(-p["alpha"] * log_n)
    td = np.exp(-p["beta"] * log_d)
    return {"E": 1.0, "A": tn, "B": td, "alpha": -p["A"] * tn * log_n, "beta": -p["B"] * td * log_d}


def exponent_a(p):
    """a = beta / (alpha + beta): N*(C) grows as C^a."""
    return p["beta"] / (p["alpha"] + p["beta"])


def exponent_b(p):
    """b = alpha / (alpha + beta): D*(C) grows as C^b."""
    return p["alpha"] / (p["alpha"] + p["beta"])


def _g(p):
    return (p["alpha"] * p["A"] / (p["beta"] * p["B"])) ** (1.0 / (p["alpha"] + p["beta"]))


def n_opt(p, C):
    """Compute-optimal parameter count N*(C) for C = 6ND."""
    return _g(p) * (np.asarray(C, dtype=float) / 6.0) ** exponent_a(p)


def d_opt(p, C):
    """Compute-optimal token count D*(C) for C = 6ND."""
    return (np.asarray(C, dtype=float) / 6.0) ** exponent_b(p) / _g(p)


def tokens_per_param(p, C):
    """D*(C) / N*(C) at the compute-optimal allocation."""
    return d_opt(p, C) / n_opt(p, C)


def loss_opt(p, C):
    """Predicted loss at the compute-optimal allocation."""
    return formula({"N": n_opt(p, C), "D": d_opt(p, C)}, p)


@register("chinchilla")
def chinchilla() -> Law:
    return Law(
        name="chinchilla",
        equation="L = E + A/N^alpha + B/D^beta",
        source="Hoffmann et al. 2022, Training Compute-Optimal Large Language Models (Approach 3)",
        inputs=("N", "D"),
        params=(
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
            Param("A", _AB_GRID, 0.0, np.inf, log=True, doc="model-size term coefficient"),
            Param("B", _AB_GRID, 0.0, np.inf, log=True, doc="data term coefficient"),
            Param("alpha", _EXP_GRID, 0.0, 5.0, doc="model-size exponent"),
            Param("beta", _EXP_GRID, 0.0, 5.0, doc="data exponent"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "a": Derived(exponent_a, "N*(C) ∝ C^a, a = beta/(alpha+beta)"),
            "b": Derived(exponent_b, "D*(C) ∝ C^b, b = alpha/(alpha+beta)"),
            "N_opt": Derived(n_opt, "compute-optimal parameters N*(C)", needs=("C",)),
            "D_opt": Derived(d_opt, "compute-optimal tokens D*(C)", needs=("C",)),
            "tokens_per_param": Derived(tokens_per_param, "D*/N* at the optimum", needs=("C",)),
            "loss_opt": Derived(loss_opt, "loss at the compute-optimal allocation", needs=("C",)),
        },
        description="Fitted in log-sum-exp form (log E, log A, log B) with Huber loss on log L.",
    )


nests("chinchilla", "power", options=lambda o: {"x": "N"},
      embed=lambda p, x: {"E": p["E"], "A": p["A"], "alpha": p["alpha"], "B": TINY, "beta": 0.0})
nests("chinchilla", "power", options=lambda o: {"x": "D"},
      embed=lambda p, x: {"E": p["E"], "A": TINY, "alpha": 0.0, "B": p["A"], "beta": p["alpha"]})
