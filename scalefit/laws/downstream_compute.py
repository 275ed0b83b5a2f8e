"""Downstream accuracy directly as a power law of compute: the ladder's *direct* method.

Log-accuracy above chance falls as a power law of training compute (the direct form that extrapolates better
than the two-step compute -> loss -> accuracy chain in Krajewski et al. 2025 (Apple), "Revisiting the scaling
properties of downstream metrics in large language model training"; with a chance floor as in Bhagia et al.
2024's accuracy step):

    Acc(C) = chance + (1 - chance) * exp(-(E + A / (C / 1e18)^alpha))

so -ln((Acc - chance)/(1 - chance)) = E + A (C/1e18)^-alpha: E >= 0 is the log-accuracy left at infinite compute
(the accuracy tends to chance + (1 - chance) e^-E), A the gap at C = 1e18 FLOPs, alpha its exponent. Option
``chance`` (default 0; ``--opt chance=0.25`` for a 4-way multiple-choice task) fixes the floor. The input is the
training compute ``C`` (derived as 6 N D where the log has N and D), the target ``Acc``; the fit is on log
residuals by default (log-accuracy).
"""

from __future__ import annotations

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Law, Param
from scalefit.laws.factory_options import as_number
from scalefit.laws.registry import register

C_UNIT = 1e18  # compute unit of A (FLOPs)


def _gap(x, p):
    return p["E"] + p["A"] * np.exp(-p["alpha"] * np.log(x["C"] / C_UNIT))


@register("downstream-acc-compute")
def downstream_acc_compute(chance: float = 0.0) -> Law:
    """Acc(C) = chance + (1 - chance) exp(-(E + A/(C/1e18)^alpha))."""
    c = as_number(chance)
    if not (np.isfinite(c) and 0.0 <= c < 1.0):
        raise LawError(f"downstream-acc-compute: chance must be a number in [0, 1), got {chance!r}")

    def formula(x, p):
        return c + (1.0 - c) * np.exp(-_gap(x, p))

    def gradient(x, p):
        g = -(1.0 - c) * np.exp(-_gap(x, p))
        power = np.exp(-p["alpha"] * np.log(x["C"] / C_UNIT))
        return {"E": g, "A": g * power, "alpha": -g * p["A"] * power * np.log(x["C"] / C_UNIT)}

    return Law(
        name="downstream-acc-compute",
        equation="Acc = chance + (1 - chance) * exp(-(E + A / (C / 1e18)^alpha))",
        source="Krajewski et al. 2025 (Apple), Revisiting the scaling properties of downstream metrics in large "
        "language model training; chance floor as in Bhagia et al. 2024, model ladders",
        inputs=("C",),
        target="Acc",
        params=(Param("E", (0.01, 0.1, 0.5), 0.0, 10.0, doc="log-accuracy gap left at infinite compute"),
                Param("A", (0.1, 1.0, 5.0), 0.0, np.inf, log=True, doc="log-accuracy gap at C = 1e18 FLOPs"),
                Param("alpha", (0.05, 0.2, 0.5), 0.0, 3.0, doc="compute exponent of the gap")),
        formula=formula,
        gradient=gradient,
        options={"chance": c},
        description=f"Task accuracy as a direct power law of training compute C (log-accuracy above chance = {c:g});"
        " the ladder's direct method beside its two steps.",
    )


__all__ = ["C_UNIT", "downstream_acc_compute"]
