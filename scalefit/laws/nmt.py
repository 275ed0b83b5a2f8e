"""Encoder/decoder law for translation (Ghorbani et al. 2021, "Scaling Laws for Neural Machine
Translation", Eq. 2).

    L(N_e, N_d) = alpha * (Ne_ref/N_e)^p_e * (Nd_ref/N_d)^p_d + L_inf

N_e and N_d are the encoder and decoder parameter counts (columns named exactly ``N_e`` and ``N_d``,
or mapped with ``--map N_e=COLUMN``); p_e and p_d are the encoder and decoder exponents, L_inf the
irreducible loss, and alpha the reducible loss of a model with N_e = Ne_ref and N_d = Nd_ref.

Reference sizes. In the paper the normalisers (N̄_e, N̄_d) are fixed constants, not fitted: with
them free, alpha and the normalisers are not identifiable (scaling Ne_ref by c is undone by dividing
alpha by c^p_e). Here they are factory options ``Ne_ref`` and ``Nd_ref``, both 1e8 parameters by
default (the order of a baseline NMT Transformer's encoder or decoder); set them to your baseline's
sizes with ``get_law("nmt", Ne_ref=..., Nd_ref=...)``. They change alpha only, never p_e, p_d,
L_inf or any prediction. alpha and L_inf are optimised as their logarithms.

Derived (minimising L at a fixed total N = N_e + N_d, by Lagrange multipliers):
    ratio_opt = p_e / p_d                  the loss-optimal N_e / N_d
    Ne_opt(N) = N p_e / (p_e + p_d),  Nd_opt(N) = N p_d / (p_e + p_d),  loss_opt(N) at that split
    p_total = p_e + p_d                    the exponent when encoder and decoder grow together
"""

from __future__ import annotations

import math

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import as_number
from scalefit.laws.registry import register

_ALPHA_GRID = tuple(float(np.exp(v)) for v in (-3.0, -1.5, 0.0, 1.0))
_P_GRID = (0.05, 0.15, 0.4, 1.0)
_LINF_GRID = tuple(float(np.exp(v)) for v in (-1.5, -0.75, 0.0, 0.75, 1.5))


def _logs(x, refs):
    return np.log(refs[0]) - np.log(x["N_e"]), np.log(refs[1]) - np.log(x["N_d"])


def _formula(x, p, refs):
    le, ld = _logs(x, refs)
    return p["alpha"] * np.exp(p["p_e"] * le + p["p_d"] * ld) + p["L_inf"]


def _gradient(x, p, refs):
    le, ld = _logs(x, refs)
    t = np.exp(p["p_e"] * le + p["p_d"] * ld)
    return {"alpha": t, "p_e": p["alpha"] * t * le, "p_d": p["alpha"] * t * ld, "L_inf": 1.0}


def ratio_opt(p):
    """N_e / N_d minimising the loss at a fixed total size: p_e / p_d."""
    return p["p_e"] / p["p_d"]


def p_total(p):
    """Exponent of the total size when N_e and N_d grow in proportion."""
    return p["p_e"] + p["p_d"]


def ne_opt(p, N):
    """Loss-optimal encoder parameters for a total of N = N_e + N_d."""
    return np.asarray(N, dtype=float) * p["p_e"] / (p["p_e"] + p["p_d"])


def nd_opt(p, N):
    """Loss-optimal decoder parameters for a total of N = N_e + N_d."""
    return np.asarray(N, dtype=float) * p["p_d"] / (p["p_e"] + p["p_d"])


def _ref(name: str, value: object) -> float:
    v = as_number(value)
    if not (math.isfinite(v) and v > 0):
        raise LawError(f"law 'nmt': option {name} must be a positive number of parameters (e.g. 1e8), got {value!r}")
    return v


@register("nmt")
def nmt(Ne_ref: float = 1e8, Nd_ref: float = 1e8) -> Law:  # noqa: N803 (the paper's symbols)
    refs = (_ref("Ne_ref", Ne_ref), _ref("Nd_ref", Nd_ref))

    def loss_opt(p, N):
        """Loss at the optimal encoder/decoder split of N parameters."""
        return _formula({"N_e": ne_opt(p, N), "N_d": nd_opt(p, N)}, p, refs)

    return Law(
        name="nmt",
        equation="L = alpha*(Ne_ref/N_e)^p_e*(Nd_ref/N_d)^p_d + L_inf",
        source="Ghorbani et al. 2021, Scaling Laws for Neural Machine Translation (Eq. 2)",
        inputs=("N_e", "N_d"),
        params=(
            Param("alpha", _ALPHA_GRID, 0.0, np.inf, log=True, doc="reducible loss at N_e=Ne_ref, N_d=Nd_ref"),
            Param("p_e", _P_GRID, 0.0, 5.0, doc="encoder exponent"),
            Param("p_d", _P_GRID, 0.0, 5.0, doc="decoder exponent"),
            Param("L_inf", _LINF_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
        ),
        formula=lambda x, p: _formula(x, p, refs),
        gradient=lambda x, p: _gradient(x, p, refs),
        derived={
            "ratio_opt": Derived(ratio_opt, "loss-optimal N_e/N_d at a fixed total size = p_e/p_d"),
            "p_total": Derived(p_total, "exponent when N_e and N_d grow together = p_e + p_d"),
            "Ne_opt": Derived(ne_opt, "optimal encoder parameters for a total N = N_e + N_d", needs=("N",)),
            "Nd_opt": Derived(nd_opt, "optimal decoder parameters for a total N = N_e + N_d", needs=("N",)),
            "loss_opt": Derived(loss_opt, "loss at the optimal split of N parameters", needs=("N",)),
        },
        options={"Ne_ref": refs[0], "Nd_ref": refs[1]},
        description=f"Inputs are the columns N_e and N_d (encoder and decoder parameters). Ne_ref = {refs[0]:g} and "
        f"Nd_ref = {refs[1]:g} (options, default 1e8) are fixed reference sizes that make alpha identifiable; "
        "they rescale alpha only.",
    )
