"""Rectified fine-tuning law (Lin et al. 2024, "Selecting Large Language Model to Fine-tune via
Rectified Scaling Law", ICML 2024, arXiv:2402.02314).

    L = B/(D_l + D^beta) + E

Fine-tuning loss against the fine-tuning data size D. The pre-learned data size D_l is what the
pre-trained model already "knows" of the task, in the same units as D^beta: while D^beta << D_l the
curve is flat (the pre-power phase), once D^beta >> D_l it is the usual power law B D^-beta + E (the
power phase). With D_l = 0 it is the vanilla law. The paper's project page also writes an outer
exponent, (B/(D_l + D^beta) + E)^alpha; that variant is not provided (alpha trades off against B and E).

B, D_l and E are fitted in log space (D_l >= 0).

Derived: D_transition = D_l^(1/beta), the data size at which the two terms of the denominator are
equal (the middle of the phase transition), and loss_pretrained = B/D_l + E, the loss the law gives
with no fine-tuning data.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

_B_GRID = tuple(float(np.exp(v)) for v in (0.0, 3.0, 6.0, 9.0))
_DL_GRID = (0.1, 3.0, 100.0)
_BETA_GRID = (0.2, 0.5, 1.0)
_E_GRID = (0.2, 1.0, 2.5)


def _pieces(x, p):
    dpow = np.exp(p["beta"] * np.log(x["D"]))
    return dpow, p["D_l"] + dpow


def formula(x, p):
    """L = B / (D_l + D^beta) + E."""
    _, den = _pieces(x, p)
    return p["B"] / den + p["E"]


def gradient(x, p):
    """Partial derivatives with respect to B, D_l, beta, E."""
    dpow, den = _pieces(x, p)
    t = p["B"] / den
    return {"B": 1.0 / den, "D_l": -t / den, "beta": -t / den * dpow * np.log(x["D"]), "E": 1.0}


def d_transition(p):
    """Data size where D^beta equals the pre-learned D_l: D_l^(1/beta)."""
    return p["D_l"] ** (1.0 / p["beta"])


def loss_pretrained(p):
    """The law's loss with no fine-tuning data (D^beta -> 0): B / D_l + E."""
    with np.errstate(divide="ignore"):
        return p["B"] / p["D_l"] + p["E"]


@register("rectified")
def rectified() -> Law:
    return Law(
        name="rectified",
        equation="L = B/(D_l + D^beta) + E",
        source="Lin et al. 2024, Selecting Large Language Model to Fine-tune via Rectified Scaling Law",
        inputs=("D",),
        params=(
            Param("B", _B_GRID, 0.0, np.inf, log=True, doc="data term coefficient"),
            Param("D_l", _DL_GRID, 0.0, np.inf, log=True, doc="pre-learned data size (in units of D^beta)"),
            Param("beta", _BETA_GRID, 0.0, 5.0, doc="data exponent"),
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
        ),
        formula=formula,
        gradient=gradient,
        derived={
            "D_transition": Derived(d_transition, "data size where D^beta = D_l (middle of the phase transition)"),
            "loss_pretrained": Derived(loss_pretrained, "loss with no fine-tuning data: B/D_l + E"),
        },
        description="Fine-tuning loss against fine-tuning data size D (tokens or examples; column n_tokens or D).",
    )
