"""Parallel scaling law (Chen et al. 2025, "Parallel Scaling Law for Language Models", arXiv:2505.10475, Sec. 3).

    L = (A/(N*(k*log(P) + 1)))^alpha + E

P parallel streams (ParScale: P learned input transformations, P forward passes, a learned
aggregation) act like multiplying the N parameters by (1 + k log P): the Chinchilla parameter term
with an effective size N (1 + k log P). The logarithm is natural; a k fitted with log base b converts
to k / ln b. A, alpha, E and k are fitted; A and E in log space.

Derived:
    N_equivalent(N, P) = N (1 + k log P)     the single-stream (P = 1) size with the same loss
    streams_for(N, N_target) = exp((N_target/N - 1)/k)   the P that makes N match a model of N_target parameters

The paper's demo (huggingface.co/spaces/ParScale/Parallel_Scaling_Law) quotes, for a 2.8B model at
P = 4, the equivalent sizes 4.33B (P = 1), 3.4B (P = 2) and 2.38B (P = 8): one k (0.394 natural-log
units) reproduces all three.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

_A_GRID = tuple(float(np.exp(v)) for v in (10.0, 15.0, 20.0, 25.0))
_K_GRID = (0.1, 0.4, 1.0)
_ALPHA_GRID = (0.05, 0.15, 0.3)
_E_GRID = (0.5, 1.0, 2.0)


def _ratio(x, p):
    """A / (N (k log P + 1)) and the multiplier k log P + 1."""
    mult = p["k"] * np.log(x["P"]) + 1.0
    return p["A"] / (x["N"] * mult), mult


def formula(x, p):
    """L = (A / (N (k log P + 1)))^alpha + E."""
    r, _ = _ratio(x, p)
    return np.exp(p["alpha"] * np.log(r)) + p["E"]


def gradient(x, p):
    """Partial derivatives with respect to A, k, alpha, E."""
    r, mult = _ratio(x, p)
    t = np.exp(p["alpha"] * np.log(r))
    return {"A": p["alpha"] * t / p["A"], "k": -p["alpha"] * t * np.log(x["P"]) / mult,
            "alpha": t * np.log(r), "E": 1.0}


def n_equivalent(p, N, P):  # noqa: N803 (the paper's symbols)
    """Parameters of a single-stream model with the same loss as N parameters with P streams."""
    return np.asarray(N, dtype=float) * (p["k"] * np.log(np.asarray(P, dtype=float)) + 1.0)


def streams_for(p, N, N_target):  # noqa: N803
    """Streams P at which N parameters match a single-stream model of N_target parameters."""
    return np.exp((np.asarray(N_target, dtype=float) / np.asarray(N, dtype=float) - 1.0) / p["k"])


@register("parscale")
def parscale() -> Law:
    return Law(
        name="parscale",
        equation="L = (A/(N*(k*log(P) + 1)))^alpha + E",
        source="Chen et al. 2025, Parallel Scaling Law for Language Models (arXiv:2505.10475)",
        inputs=("N", "P"),
        params=(
            Param("A", _A_GRID, 0.0, np.inf, log=True, doc="parameter scale"),
            Param("k", _K_GRID, 0.0, 100.0, doc="benefit of the streams: effective size N (1 + k log P)"),
            Param("alpha", _ALPHA_GRID, 0.0, 5.0, doc="parameter exponent"),
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "N_equivalent": Derived(n_equivalent, "single-stream size with the same loss: N (1 + k log P)",
                                    needs=("N", "P")),
            "streams_for": Derived(streams_for, "streams P for N to match a model of N_target parameters",
                                   needs=("N", "N_target")),
        },
        description="ParScale: N parameters (column n_params), P parallel streams (column P or parallel_size). "
        "P = 1 is the plain model; natural logarithm.",
    )
