"""Downstream-error laws: average task error as a function of the loss L.

``downstream`` (Gadre et al. 2024, "Language models scale reliably with over-training and on
downstream tasks", arXiv:2403.08540, Eq. 5):

    Err(L) = epsilon - k exp(-gamma L)

epsilon is the error as the loss grows (near chance), and the error falls exponentially as the loss
drops. Paired with a loss law it predicts downstream error from compute (``scalefit predict loss.json
--chain err.json``).

``downstream-sigmoid`` (the second step of the "model ladder" of Bhagia et al. 2024, "Establishing
Task Scaling Laws via Compute-Efficient Model Ladders", arXiv:2412.04403):

    Err(L) = a / (1 + exp(-k (L - L0))) + b

Bhagia et al. write it for accuracy, Acc(L) = a / (1 + exp(-k (L - L0))) + b with a < 0; error
= 1 - accuracy has the same form (a -> -a, b -> 1 - b), so both laws take an error column by default
(target symbol ``Err``: ``--target err_avg17``, or ``--target-mean 'acc_*'`` for 1 - the mean of
accuracy columns). Fitting an accuracy column directly also works: ``a`` may be negative.
Both laws take the loss as input symbol ``L`` (``--map L=loss_c4_val`` when the loss column has
another name).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

_EPS_GRID = (0.5, 0.7, 0.8, 0.9, 1.0)
_K_GRID = (0.3, 1.0, 3.0, 10.0, 30.0, 100.0)
_GAMMA_GRID = (0.1, 0.3, 0.6, 1.0, 1.5, 2.5)


def exp_formula(x, p):
    """Err = epsilon - k exp(-gamma L)."""
    return p["epsilon"] - p["k"] * np.exp(-p["gamma"] * x["L"])


def exp_gradient(x, p):
    t = np.exp(-p["gamma"] * x["L"])
    return {"epsilon": 1.0, "k": -t, "gamma": p["k"] * t * x["L"]}


def loss_at_error(p, Err):
    """The loss L at which the law reaches error Err: L = -ln((epsilon - Err)/k)/gamma (NaN if unreachable)."""
    gap = p["epsilon"] - np.asarray(Err, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(gap > 0, -np.log(np.where(gap > 0, gap, 1.0) / p["k"]) / p["gamma"], np.nan)


@register("downstream")
def downstream() -> Law:
    return Law(
        name="downstream",
        equation="Err = epsilon - k*exp(-gamma*L)",
        source="Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks (Eq. 5)",
        inputs=("L",),
        target="Err",
        params=(
            Param("epsilon", _EPS_GRID, 0.0, 10.0, doc="error approached as the loss grows (about chance)"),
            Param("k", _K_GRID, 0.0, 1e4, log=True, doc="scale of the exponential decay"),
            Param("gamma", _GAMMA_GRID, 0.0, 50.0, log=True, doc="decay rate of the error in the loss"),
        ),
        formula=exp_formula,
        gradient=exp_gradient,
        derived={
            "L_at_error": Derived(loss_at_error, "loss at which the error reaches Err", needs=("Err",)),
        },
        description=(
            "Input L is a loss (e.g. --map L=loss_c4_val); target Err an error column (--target err_avg17) "
            "or 1 - mean accuracy (--target-mean 'acc_*'). The paper fits raw least squares (--loss mse --space raw)."
        ),
    )


_A_GRID = (-1.0, -0.5, 0.25, 0.5, 1.0)
_KS_GRID = (0.5, 1.0, 2.0, 4.0, 8.0)
_L0_GRID = (1.0, 2.0, 3.0, 4.0, 5.0)
_B_GRID = (-0.5, 0.0, 0.25, 0.5)


def sigmoid_formula(x, p):
    """Err = a / (1 + exp(-k (L - L0))) + b."""
    z = -p["k"] * (x["L"] - p["L0"])
    return p["a"] / (1.0 + np.exp(z)) + p["b"]


def sigmoid_gradient(x, p):
    z = -p["k"] * (x["L"] - p["L0"])
    s = 1.0 / (1.0 + np.exp(z))  # sigmoid(k (L - L0))
    ds = s * (1.0 - s)
    return {"a": s, "k": p["a"] * ds * (x["L"] - p["L0"]), "L0": -p["a"] * ds * p["k"], "b": 1.0}


@register("downstream-sigmoid")
def downstream_sigmoid() -> Law:
    return Law(
        name="downstream-sigmoid",
        equation="Err = a/(1 + exp(-k*(L - L0))) + b",
        source="Bhagia et al. 2024, Establishing Task Scaling Laws via Compute-Efficient Model Ladders (step 2)",
        inputs=("L",),
        target="Err",
        params=(
            Param("a", _A_GRID, -10.0, 10.0, doc="height of the sigmoid (negative when fitting accuracy)"),
            Param("k", _KS_GRID, 0.0, 100.0, log=True, doc="steepness (per unit of loss)"),
            Param("L0", _L0_GRID, -50.0, 50.0, doc="loss at the sigmoid's midpoint"),
            Param("b", _B_GRID, -10.0, 10.0, doc="floor: the value as L decreases (for a > 0)"),
        ),
        formula=sigmoid_formula,
        gradient=sigmoid_gradient,
        positive_target=False,
        description=(
            "Fits an error column (or an accuracy column, where a < 0). Residuals in raw units by default. "
            "Input L is a loss (e.g. --map L=loss_c4_val)."
        ),
    )
