"""Optimal-hyperparameter laws: the Step Law, the DeepSeek compute form, and the lr-bsz loss valley.

Step Law (Li et al. 2025, "Predictable Scale: Part I — Optimal Hyperparameter Scaling Law in Large
Language Model Pretraining", arXiv:2503.04715, Eq. 1-2):

    eta*(N, D) = c_eta * N^alpha * D^beta        (paper: 1.79 N^-0.713 D^0.307)
    B*(D)      = c_B * D^gamma                    (paper: 0.58 D^0.571, B in tokens)

DeepSeek LLM (DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with
Longtermism", Section 3.1, Eq. 1):

    eta*(C) = c_eta * C^a                          (paper: 0.3118 C^-0.1250)
    B*(C)   = c_B * C^b                            (paper: 0.2920 C^0.3271, B in tokens)

A law has one target, so each form is one law per target, chosen with the factory option
``target``: ``get_law("hparam-steplaw", target="lr")`` (the default) fits eta* (target symbol ``lr``),
``target="B"`` fits B* (target symbol ``B``, in whatever unit the batch column holds — the
``hparams`` procedure converts sequences to tokens with ``seq_len``). Both are linear in log space:
with ``loss="mse"`` (log residuals) a fit is ordinary least squares of log eta on log N and log D,
which is the Step Law procedure when fitted on the near-optimal band runs.

Loss valley ``lr-bsz`` (this package's model, built from the two above):

    L = E + A_N*(N_ref/N)^alpha + A_D*(D_ref/D)^beta + k_lr*u^2 + k_B*(v - s*u)^2
    u = ln lr - ln(lr_ref (N/N_ref)^alpha_eta (D/D_ref)^beta_eta),   v = ln B - ln(B_ref (D/D_ref)^gamma_B)

a quadratic valley in (ln lr, ln B), positive definite for any k_lr, k_B > 0 and tilt s, whose
centre follows the Step Law and whose floor follows the Chinchilla law (Hoffmann et al. 2022).
``s`` is the slope of the valley floor: at a learning rate u away from the optimum the best batch is
ln B* + s u. Derived: ``penalty(lr, B, N, D)`` = L - floor (nats lost against the optimum),
``lr_opt(N, D)``, ``B_opt(D)``, ``loss_floor(N, D)``, and the Step-Law-convention coefficients ``c_eta``,
``c_B``. Coefficients are values at reference scales (options ``n_ref``, ``d_ref``, default 1e9 and 1e11)
so that they are nearly uncorrelated with the exponents; this is what makes the 13-parameter fit fast.
"""

from __future__ import annotations

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import register

TARGETS = ("lr", "B")
_EXP_GRID = (-1.0, 0.0, 1.0)
_C_GRID = (1e-4, 1.0, 1e4)
STEPLAW_SOURCE = (
    "Li et al. 2025, Predictable Scale: Part I - Optimal Hyperparameter Scaling Law in Large Language Model "
    "Pretraining (Step Law), arXiv:2503.04715"
)
DEEPSEEK_SOURCE = "DeepSeek-AI 2024, DeepSeek LLM: Scaling Open-Source Language Models with Longtermism (Sec. 3.1)"


def _check_target(law: str, target: object) -> str:
    if target not in TARGETS:
        raise LawError(
            f"law {law!r}: target must be 'lr' (optimal learning rate) or 'B' (optimal batch size), got {target!r}; "
            f"e.g. get_law({law!r}, target='B') or --opt target=B"
        )
    return str(target)


def _monomial(x, p, coef, terms):
    """coef * prod(x[sym]^p[exp]) evaluated as exp(log coef + sum exp*log x)."""
    out = np.log(p[coef])
    for sym, exp in terms:
        out = out + p[exp] * np.log(x[sym])
    return np.exp(out)


def _monomial_grad(x, p, coef, terms):
    val = _monomial(x, p, coef, terms)
    grad = {coef: val / p[coef]}
    for sym, exp in terms:
        grad[exp] = val * np.log(x[sym])
    return grad


def _power_law(name, equation, source, target, coef, terms, docs, description):
    syms = tuple(sym for sym, _ in terms)
    params = (Param(coef, _C_GRID, 0.0, np.inf, log=True, doc=docs[coef]),) + tuple(
        Param(exp, _EXP_GRID, -5.0, 5.0, doc=docs[exp]) for _, exp in terms
    )
    return Law(
        name=name, equation=equation, source=source, inputs=syms, params=params, target=target,
        formula=lambda x, p: _monomial(x, p, coef, terms),
        gradient=lambda x, p: _monomial_grad(x, p, coef, terms),
        options={"target": target}, description=description,
    )


@register("hparam-steplaw")
def hparam_steplaw(target: str = "lr") -> Law:
    target = _check_target("hparam-steplaw", target)
    note = ("Fit on the near-optimal runs of each (N, D) cell (`scalefit fit hparams` does the whole procedure); "
            "option target=lr|B picks the law.")
    if target == "lr":
        return _power_law(
            "hparam-steplaw", "lr* = c_eta * N^alpha * D^beta", STEPLAW_SOURCE, "lr", "c_eta",
            (("N", "alpha"), ("D", "beta")),
            {"c_eta": "learning-rate coefficient", "alpha": "exponent of N (paper -0.713)",
             "beta": "exponent of D (paper 0.307)"}, note,
        )
    return _power_law(
        "hparam-steplaw", "B* = c_B * D^gamma", STEPLAW_SOURCE, "B", "c_B", (("D", "gamma"),),
        {"c_B": "batch-size coefficient (batch unit as fitted)", "gamma": "exponent of D (paper 0.571, tokens)"}, note,
    )


@register("hparam-compute")
def hparam_compute(target: str = "lr") -> Law:
    target = _check_target("hparam-compute", target)
    note = "Optimal hyperparameters against training compute C (C = 6ND when no compute column); option target=lr|B."
    if target == "lr":
        return _power_law(
            "hparam-compute", "lr* = c_eta * C^a", DEEPSEEK_SOURCE, "lr", "c_eta", (("C", "a"),),
            {"c_eta": "learning-rate coefficient", "a": "exponent of C (paper -0.125)"}, note,
        )
    return _power_law(
        "hparam-compute", "B* = c_B * C^b", DEEPSEEK_SOURCE, "B", "c_B", (("C", "b"),),
        {"c_B": "batch-size coefficient (batch unit as fitted)", "b": "exponent of C (paper 0.327, tokens)"}, note,
    )


# ---- the lr-bsz loss valley ------------------------------------------------------------------
N_REF, D_REF = 1e9, 1e11  # default reference scales of the valley's coefficients


def log_lr_opt(p, N, D, n_ref=N_REF, d_ref=D_REF):
    return np.log(p["lr_ref"]) + p["alpha_eta"] * np.log(N / n_ref) + p["beta_eta"] * np.log(D / d_ref)


def log_b_opt(p, D, d_ref=D_REF):
    return np.log(p["B_ref"]) + p["gamma_B"] * np.log(D / d_ref)


def loss_floor(p, N, D, n_ref=N_REF, d_ref=D_REF):
    """Loss at the optimal (lr, B): E + A_N (N_ref/N)^alpha + A_D (D_ref/D)^beta."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    term_n = p["A_N"] * np.exp(-p["alpha"] * np.log(N / n_ref))
    return p["E"] + term_n + p["A_D"] * np.exp(-p["beta"] * np.log(D / d_ref))


def penalty(p, lr, B, N, D, n_ref=N_REF, d_ref=D_REF):
    """Loss above the floor at (lr, B): k_lr u^2 + k_B (v - s u)^2 (nats)."""
    N, D = np.asarray(N, dtype=float), np.asarray(D, dtype=float)
    u = np.log(np.asarray(lr, dtype=float)) - log_lr_opt(p, N, D, n_ref, d_ref)
    v = np.log(np.asarray(B, dtype=float)) - log_b_opt(p, D, d_ref)
    return p["k_lr"] * u * u + p["k_B"] * (v - p["s"] * u) ** 2


def _surface_gradient(x, p, n_ref, d_ref):
    log_n, log_d = np.log(x["N"] / n_ref), np.log(x["D"] / d_ref)
    u = np.log(x["lr"]) - log_lr_opt(p, x["N"], x["D"], n_ref, d_ref)
    w = np.log(x["B"]) - log_b_opt(p, x["D"], d_ref) - p["s"] * u
    tn, td = np.exp(-p["alpha"] * log_n), np.exp(-p["beta"] * log_d)
    d_u = 2.0 * p["k_lr"] * u - 2.0 * p["k_B"] * p["s"] * w  # d penalty / d u
    d_v = 2.0 * p["k_B"] * w  # d penalty / d v
    return {
        "E": np.ones_like(u), "A_N": tn, "alpha": -p["A_N"] * tn * log_n, "A_D": td, "beta": -p["A_D"] * td * log_d,
        "lr_ref": -d_u / p["lr_ref"], "alpha_eta": -d_u * log_n, "beta_eta": -d_u * log_d,
        "B_ref": -d_v / p["B_ref"], "gamma_B": -d_v * log_d,
        "k_lr": u * u, "k_B": w * w, "s": -2.0 * p["k_B"] * w * u,
    }


def _check_ref(name: str, value: object) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        v = float("nan")
    if not v > 0 or not np.isfinite(v):
        raise LawError(f"law 'lr-bsz': {name} must be a positive number (a reference scale), got {value!r}")
    return v


@register("lr-bsz")
def lr_bsz(n_ref: float = N_REF, d_ref: float = D_REF) -> Law:
    nr, dr = _check_ref("n_ref", n_ref), _check_ref("d_ref", d_ref)
    return Law(
        name="lr-bsz",
        equation="L = E + A_N*(N_ref/N)^alpha + A_D*(D_ref/D)^beta + k_lr*u^2 + k_B*(v - s*u)^2",
        source=f"valley centre: {STEPLAW_SOURCE}; floor: Hoffmann et al. 2022 (Chinchilla)",
        inputs=("lr", "B", "N", "D"),
        params=(
            Param("E", (1.0, 2.0), 0.0, np.inf, log=True, doc="irreducible loss"),
            Param("A_N", (0.3,), 0.0, np.inf, log=True, doc="model-size term at N = N_ref (nats)"),
            Param("alpha", (0.3,), 0.0, 3.0, doc="model-size exponent of the floor"),
            Param("A_D", (0.3,), 0.0, np.inf, log=True, doc="data term at D = D_ref (nats)"),
            Param("beta", (0.3,), 0.0, 3.0, doc="data exponent of the floor"),
            Param("lr_ref", (1e-3, 1e-2), 0.0, np.inf, log=True, doc="optimal lr at (N_ref, D_ref)"),
            Param("alpha_eta", (-0.5,), -5.0, 5.0, doc="N exponent of the optimal lr"),
            Param("beta_eta", (0.2,), -5.0, 5.0, doc="D exponent of the optimal lr"),
            Param("B_ref", (1e5, 1e6), 0.0, np.inf, log=True, doc="optimal batch at D_ref (batch unit as fitted)"),
            Param("gamma_B", (0.5,), -5.0, 5.0, doc="D exponent of the optimal batch"),
            Param("k_lr", (0.01,), 0.0, np.inf, log=True, doc="curvature along ln lr (nats per ln-unit^2)"),
            Param("k_B", (0.01,), 0.0, np.inf, log=True, doc="curvature along ln B (nats per ln-unit^2)"),
            Param("s", (0.0,), -10.0, 10.0, doc="tilt: the best ln B moves by s per unit of ln lr"),
        ),
        formula=lambda x, p: loss_floor(p, x["N"], x["D"], nr, dr)
        + penalty(p, x["lr"], x["B"], x["N"], x["D"], nr, dr),
        gradient=lambda x, p: _surface_gradient(x, p, nr, dr),
        derived={
            "penalty": Derived(lambda p, lr, B, N, D: penalty(p, lr, B, N, D, nr, dr),
                               "loss above the valley floor at (lr, B) (nats)", needs=("lr", "B", "N", "D")),
            "lr_opt": Derived(lambda p, N, D: np.exp(log_lr_opt(p, np.asarray(N, float), np.asarray(D, float), nr, dr)),
                              "optimal learning rate at (N, D)", needs=("N", "D")),
            "B_opt": Derived(lambda p, D: np.exp(log_b_opt(p, np.asarray(D, float), dr)),
                             "optimal batch size at D (unit as fitted)", needs=("D",)),
            "loss_floor": Derived(lambda p, N, D: loss_floor(p, N, D, nr, dr), "loss at the optimal (lr, B)",
                                  needs=("N", "D")),
            "c_eta": Derived(lambda p: p["lr_ref"] * nr ** (-p["alpha_eta"]) * dr ** (-p["beta_eta"]),
                             "Step Law coefficient of the valley centre: lr* = c_eta N^alpha_eta D^beta_eta"),
            "c_B": Derived(lambda p: p["B_ref"] * dr ** (-p["gamma_B"]),
                           "Step Law coefficient of the valley centre: B* = c_B D^gamma_B"),
        },
        options={"n_ref": nr, "d_ref": dr},
        description="Quadratic valley in (ln lr, ln B) with u = ln(lr / (lr_ref (N/N_ref)^alpha_eta "
        "(D/D_ref)^beta_eta)) and v = ln(B / (B_ref (D/D_ref)^gamma_B)); coefficients are values at the reference "
        "scales (options n_ref, d_ref; default 1e9 parameters, 1e11 tokens), which keeps the fit well conditioned. "
        "Fit it on runs near each cell's optimum (`scalefit fit hparams` does, with --opt surface_tol=0.02).",
    )
