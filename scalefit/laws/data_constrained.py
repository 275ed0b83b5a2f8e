"""Data-constrained law (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", Eqs. 5-6).

    L = E + A/N'^alpha + B/D'^beta
    D' = U_D + U_D R_D_star (1 - exp(-R_D/R_D_star)),   R_D = D/U_D - 1   (repetitions of the unique data)
    N' = U_N + U_N R_N_star (1 - exp(-R_N/R_N_star)),   R_N = N/U_N - 1   (excess parameters)

The Chinchilla form with effective data D' and effective parameters N': each repetition of the U_D
unique tokens is worth a little less than the last (the value decays with constant R_D_star), and
parameters beyond U_N, the compute-optimal size for U_D tokens, likewise (constant R_N_star). Inputs
are N (parameters), D (tokens trained on, all epochs) and U_D (unique tokens); U_D above D counts as D.

U_N. As in the paper's released code (github.com/huggingface/datablations), by default
U_N = min(N, N_opt(U_D)) with N_opt the Chinchilla-optimal size for U_D tokens under this law's own
A, B, alpha, beta: N_opt(U) = G (G U)^(beta/alpha), G = (alpha A / (beta B))^(1/(alpha+beta)). With the
option ``unique_params="column"`` U_N is read from a column instead (symbol U_N).

Published fit (App. A, C4): E = exp(0.6254804), A = exp(6.255414), B = exp(7.3049974),
alpha = beta = 0.3526596, R_D_star = 15.387756, R_N_star = 5.309743.

Derived: the data half-life R_D_star ln 2 (the repetition after which one more epoch is worth half a
fresh one; likewise for parameters), the most effective data repetition can give, U_D (1 + R_D_star),
D_eff at (D, U_D), and the loss-optimal allocation of a budget C = 6ND given U_D unique tokens
(N_alloc, D_alloc, epochs_alloc, loss_alloc: numeric, a log-grid search refined by golden sections; with
the default U_N only).
"""

from __future__ import annotations

import numpy as np

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import choice_option
from scalefit.laws.registry import register

_E_GRID = (1.0, 2.0, 3.0)
_AB_GRID = tuple(float(np.exp(v)) for v in (3.0, 6.0, 9.0, 12.0))
_EXP_GRID = (0.2, 0.4, 0.7)
_RD_GRID = (3.0, 15.0, 60.0)
_RN_GRID = (1.0, 5.0, 25.0)
_MODES = ("derived", "column")
_GOLDEN = (np.sqrt(5.0) - 1.0) / 2.0


def _effective(u, total, r_star):
    """u + u r* (1 - exp(-R/r*)) with R = total/u - 1 >= 0; also exp(-R/r*) and R."""
    r = np.maximum(total / u - 1.0, 0.0)
    decay = np.exp(-r / r_star)
    return u + u * r_star * (1.0 - decay), decay, r


def _log_n_opt(p, u):
    """log N_opt(U) = (log(alpha A / (beta B)) + beta log U) / alpha, the Chinchilla-optimal size for U tokens."""
    q = np.log(p["alpha"] * p["A"] / (p["beta"] * p["B"])) + p["beta"] * np.log(u)
    return q / p["alpha"], q


def _pieces(x, p, mode):
    u = np.minimum(x["U_D"], x["D"])
    d_eff, d_decay, r_d = _effective(u, x["D"], p["R_D_star"])
    n = x["N"]
    if mode == "column":
        u_n, capped, q = np.minimum(x["U_N"], n), None, None
    else:
        log_m, q = _log_n_opt(p, u)
        capped = n > np.exp(log_m)
        u_n = np.where(capped, np.exp(log_m), n)
    n_eff, n_decay, r_n = _effective(u_n, n, p["R_N_star"])
    return dict(u=u, d_eff=d_eff, d_decay=d_decay, r_d=r_d, u_n=u_n, capped=capped, q=q, n_eff=n_eff,
                n_decay=n_decay, r_n=r_n)


def _formula(x, p, mode):
    s = _pieces(x, p, mode)
    return p["E"] + p["A"] * s["n_eff"] ** -p["alpha"] + p["B"] * s["d_eff"] ** -p["beta"]


def _gradient(x, p, mode):
    s = _pieces(x, p, mode)
    a, b, alpha, beta = p["A"], p["B"], p["alpha"], p["beta"]
    tn, td = s["n_eff"] ** -alpha, s["d_eff"] ** -beta
    dtn = -alpha * a * tn / s["n_eff"]  # d(A N'^-alpha)/dN'
    rn_star, rd_star = p["R_N_star"], p["R_D_star"]
    grad = {
        "E": 1.0, "A": tn, "B": td,
        "alpha": -a * tn * np.log(s["n_eff"]), "beta": -b * td * np.log(s["d_eff"]),
        "R_N_star": dtn * s["u_n"] * (1.0 - s["n_decay"] - s["n_decay"] * s["r_n"] / rn_star),
        "R_D_star": -beta * b * td / s["d_eff"] * s["u"] * (1.0 - s["d_decay"] - s["d_decay"] * s["r_d"] / rd_star),
    }
    if mode == "derived":  # U_N = N_opt(U_D) where capped: chain rule through log N_opt
        dn_du = 1.0 + rn_star * (1.0 - s["n_decay"]) - s["n_decay"] * x["N"] / s["u_n"]
        through = np.where(s["capped"], dtn * dn_du * s["u_n"], 0.0)  # d term / d log U_N
        grad["A"] = grad["A"] + through / (alpha * a)
        grad["B"] = grad["B"] - through / (alpha * b)
        grad["alpha"] = grad["alpha"] + through * (1.0 - s["q"]) / alpha**2
        grad["beta"] = grad["beta"] + through * (np.log(s["u"]) - 1.0 / beta) / alpha
    return grad


def d_half_life(p):
    """Repetitions after which one more epoch of the unique data is worth half a fresh one: R_D_star ln 2."""
    return p["R_D_star"] * np.log(2.0)


def n_half_life(p):
    """Excess-parameter multiple after which more parameters are worth half as much: R_N_star ln 2."""
    return p["R_N_star"] * np.log(2.0)


def max_data_multiplier(p):
    """D'/U_D as the repetitions grow without bound: 1 + R_D_star."""
    return 1.0 + p["R_D_star"]


def d_eff(p, D, U_D):  # noqa: N803 (the paper's symbols)
    """Effective data D' of D tokens drawn from U_D unique ones."""
    u = np.minimum(np.asarray(U_D, dtype=float), np.asarray(D, dtype=float))
    return _effective(u, np.asarray(D, dtype=float), p["R_D_star"])[0]


def _alloc_loss(p, log_n, C, u):  # noqa: N803
    n = np.exp(log_n)
    return _formula({"N": n, "D": C / (6.0 * n), "U_D": u}, p, "derived")


def allocation(p, C, U_D):  # noqa: N803
    """(N, D) minimising the loss at compute C = 6ND with U_D unique tokens; shapes broadcast like p and C."""
    p = {k: np.asarray(v, dtype=float)[..., None] for k, v in p.items()}
    c = np.asarray(C, dtype=float)[..., None]
    u = np.asarray(U_D, dtype=float)[..., None]
    grid = 0.5 * np.log(c / 6.0) + np.linspace(-6.0, 6.0, 241) * np.log(10.0)
    with np.errstate(all="ignore"):
        losses = _alloc_loss(p, grid, c, u)
        i = np.clip(np.nanargmin(np.where(np.isfinite(losses), losses, np.inf), axis=-1), 1, 239)[..., None]
        step = grid[..., 1:2] - grid[..., :1]
        lo = np.take_along_axis(np.broadcast_to(grid, losses.shape), i - 1, axis=-1)
        hi = lo + 2.0 * step
        for _ in range(80):  # golden-section search inside the two grid cells around the best point
            m1, m2 = hi - _GOLDEN * (hi - lo), lo + _GOLDEN * (hi - lo)
            left = _alloc_loss(p, m1, c, u) <= _alloc_loss(p, m2, c, u)
            lo, hi = np.where(left, lo, m1), np.where(left, m2, hi)
    n = np.exp(0.5 * (lo + hi))[..., 0]
    return n, np.asarray(C, dtype=float) / (6.0 * n)


def allocated(p, C, U_D):  # noqa: N803
    """N, D, epochs (D/U_D) and loss of the loss-optimal allocation of C = 6ND with U_D unique tokens."""
    n, d = allocation(p, C, U_D)
    u = np.asarray(U_D, dtype=float)
    return {"N_alloc": n, "D_alloc": d, "epochs_alloc": d / u,
            "loss_alloc": _formula({"N": n, "D": d, "U_D": u}, p, "derived")}


_ALLOCATION_DOCS = {
    "N_alloc": "loss-optimal N at compute C with U_D unique tokens",
    "D_alloc": "loss-optimal D at compute C with U_D unique tokens",
    "epochs_alloc": "epochs D_alloc/U_D of that allocation",
    "loss_alloc": "loss at that allocation",
}


def _allocation_derived() -> dict:
    def one(key):
        return lambda p, C, U_D: allocated(p, C, U_D)[key]  # noqa: N803

    return {k: Derived(one(k), doc, needs=("C", "U_D")) for k, doc in _ALLOCATION_DOCS.items()}


@register("data-constrained")
def data_constrained(unique_params: str = "derived") -> Law:
    """L = E + A/N'^alpha + B/D'^beta, D' = U_D + U_D*R_D_star*(1 - exp(-R_D/R_D_star)),
    N' = U_N + U_N*R_N_star*(1 - exp(-R_N/R_N_star))."""
    mode = choice_option("data-constrained", "unique_params", unique_params, _MODES)
    inputs = ("N", "D", "U_D") + (("U_N",) if mode == "column" else ())

    return Law(
        name="data-constrained",
        equation="L = E + A/N'^alpha + B/D'^beta, D' = U_D + U_D*R_D_star*(1 - exp(-R_D/R_D_star)), "
        "N' = U_N + U_N*R_N_star*(1 - exp(-R_N/R_N_star))",
        source="Muennighoff et al. 2023, Scaling Data-Constrained Language Models (Eqs. 5-6)",
        inputs=inputs,
        params=(
            Param("E", _E_GRID, 0.0, np.inf, log=True, doc="irreducible loss"),
            Param("A", _AB_GRID, 0.0, np.inf, log=True, doc="parameter term coefficient"),
            Param("B", _AB_GRID, 0.0, np.inf, log=True, doc="data term coefficient"),
            Param("alpha", _EXP_GRID, 0.0, 5.0, doc="parameter exponent"),
            Param("beta", _EXP_GRID, 0.0, 5.0, doc="data exponent"),
            Param("R_D_star", _RD_GRID, 0.0, 1e6, log=True, doc="decay constant of repeated data (epochs)"),
            Param("R_N_star", _RN_GRID, 0.0, 1e6, log=True, doc="decay constant of excess parameters"),
        ),
        formula=lambda x, p: _formula(x, p, mode),
        gradient=lambda x, p: _gradient(x, p, mode),
        derived={
            "D_half_life": Derived(d_half_life, "repetitions until one more epoch is worth half fresh data"),
            "N_half_life": Derived(n_half_life, "excess-parameter multiple until more are worth half as much"),
            "max_data_multiplier": Derived(max_data_multiplier, "D'/U_D with unbounded repetition: 1 + R_D_star"),
            "D_eff": Derived(d_eff, "effective data D' of D tokens from U_D unique ones", needs=("D", "U_D")),
            **(_allocation_derived() if mode == "derived" else {}),
        },
        options={"unique_params": mode},
        description="Chinchilla with effective data and parameters under repetition. Inputs N, D (all epochs) and "
        "U_D (unique tokens, e.g. a column unique_tokens); U_N is the Chinchilla-optimal size for U_D "
        "(option unique_params='column' reads it from a U_N column; the allocation needs the default). E, A, B, "
        "R_D_star, R_N_star in log space; R_D_star or R_N_star at its 1e6 bound means no repetition effect is seen.",
    )
