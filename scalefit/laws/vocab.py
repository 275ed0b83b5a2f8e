"""Vocabulary law (Tao et al. 2024, "Scaling Laws with Vocabulary: Larger Models Deserve Larger
Vocabularies", Sec. 5, approach 3: the parametric loss formula).

    L_u = -E + A1/N_nv^alpha1 + A2/N_v^alpha2 + B/D^beta

L_u is the unigram-normalised loss (negative in practice, hence the -E), N_nv the non-vocabulary
parameters, N_v = V d the vocabulary (embedding) parameters of a vocabulary of V tokens and width d,
and D the training tokens. The paper's code fits the same form to the training characters H instead
of tokens; ``get_law("vocab", data="H")`` fits B/H^beta with H (column num_characters) as the input.

Units. Here every input is a raw count. The paper's code normalises N_nv and N_v by 1e6 and D by 1e9;
its constants convert as A1 -> A1 (1e6)^alpha1, A2 -> A2 (1e6)^alpha2, B -> B (1e9)^beta. Its fit
(github.com/sail-sg/scaling-with-vocab, optimal_Nv_predict.py): E = 5.5328, A1 = 1.8314, A2 = 0.19584,
B = 2.1241, alpha1 = beta = 0.44661, alpha2 = 0.67074 (normalised units; the paper ties alpha1 = beta,
here both are free).

Derived (data="D"): Nv_opt(N_nv, C), the vocabulary parameters minimising L_u at a compute budget
C = 6 (N_nv + N_v) D for a given N_nv; it solves dL_u/dN_v = 0, i.e.
alpha2 A2 N_v^-(alpha2+1) = beta B D^-beta / (N_nv + N_v), which has exactly one root.
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import choice_option
from scalefit.laws.implicit import solve_increasing
from scalefit.laws.registry import register

_E_GRID = (2.0, 5.0, 8.0)
_COEF_GRID = tuple(float(np.exp(v)) for v in (4.0, 8.0, 12.0))
_EXP_GRID = (0.2, 0.45, 0.8)


def _terms(x, p, data):
    t1 = p["A1"] * np.exp(-p["alpha1"] * np.log(x["N_nv"]))
    t2 = p["A2"] * np.exp(-p["alpha2"] * np.log(x["N_v"]))
    t3 = p["B"] * np.exp(-p["beta"] * np.log(x[data]))
    return t1, t2, t3


def _formula(x, p, data):
    t1, t2, t3 = _terms(x, p, data)
    return -p["E"] + t1 + t2 + t3


def _gradient(x, p, data):
    t1, t2, t3 = _terms(x, p, data)
    return {
        "E": -1.0,
        "A1": t1 / p["A1"], "alpha1": -t1 * np.log(x["N_nv"]),
        "A2": t2 / p["A2"], "alpha2": -t2 * np.log(x["N_v"]),
        "B": t3 / p["B"], "beta": -t3 * np.log(x[data]),
    }


def nv_opt(p, N_nv, C):  # noqa: N803 (the paper's symbols)
    """Vocabulary parameters N_v minimising L_u at compute C = 6 (N_nv + N_v) D, for N_nv parameters."""
    n_nv, c = np.asarray(N_nv, dtype=float), np.asarray(C, dtype=float)
    a2, beta = p["alpha2"], p["beta"]
    # g(u) with u = log N_v: log of (beta B D^-beta / (N_nv + N_v)) / (alpha2 A2 N_v^-(alpha2+1)), increasing in u
    const = np.log(beta * p["B"] / (a2 * p["A2"])) - beta * np.log(c / 6.0)

    def g(u):
        return const + (a2 + 1.0) * u - (1.0 - beta) * np.logaddexp(np.log(n_nv), u)

    def dg(u):
        return (a2 + 1.0) - (1.0 - beta) / (1.0 + np.exp(np.log(n_nv) - u))

    return np.exp(solve_increasing(g, 0.0, np.log(c), dg=dg))


@register("vocab")
def vocab(data: str = "D") -> Law:
    data = choice_option("vocab", "data", data, ("D", "H"))
    derived = {}
    if data == "D":
        derived["Nv_opt"] = Derived(nv_opt, "loss-optimal vocabulary parameters N_v = V d at compute C for N_nv",
                                    needs=("N_nv", "C"))
    what = "training tokens" if data == "D" else "training characters"
    return Law(
        name="vocab",
        equation=f"L_u = -E + A1/N_nv^alpha1 + A2/N_v^alpha2 + B/{data}^beta",
        source="Tao et al. 2024, Scaling Laws with Vocabulary: Larger Models Deserve Larger Vocabularies (approach 3)",
        inputs=("N_nv", "N_v", data),
        params=(
            Param("E", _E_GRID, -50.0, 50.0, doc="minus the normalised loss of the ideal model"),
            Param("A1", _COEF_GRID, 0.0, np.inf, log=True, doc="non-vocabulary parameter term coefficient"),
            Param("alpha1", _EXP_GRID, 0.0, 3.0, doc="non-vocabulary parameter exponent"),
            Param("A2", _COEF_GRID, 0.0, np.inf, log=True, doc="vocabulary parameter term coefficient"),
            Param("alpha2", _EXP_GRID, 0.0, 3.0, doc="vocabulary parameter exponent"),
            Param("B", _COEF_GRID, 0.0, np.inf, log=True, doc=f"data term coefficient ({what})"),
            Param("beta", _EXP_GRID, 0.0, 3.0, doc=f"data exponent ({what})"),
        ),
        formula=lambda x, p: _formula(x, p, data),
        gradient=lambda x, p: _gradient(x, p, data),
        derived=derived,
        options={"data": data},
        positive_target=False,
        description=f"Unigram-normalised loss (column L or loss; it is negative, so the fit is on raw residuals) "
        f"against non-vocabulary parameters N_nv, vocabulary parameters N_v = V*d and {what} ({data}).",
    )
