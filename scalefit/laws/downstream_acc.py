"""Downstream laws that say what they predict: accuracy or error of a task as a function of a loss L, bounded.

Every law here is ``y = floor + (ceiling - floor) * t(L)`` with ``0 <= floor, ceiling <= 1`` (box bounds), and
``t`` between 0 and 1, so a fitted law never predicts an accuracy or error outside [0, 1]:

``downstream-acc-sigmoid`` (the second step of the "model ladder", Bhagia et al. 2024, "Establishing Task
Scaling Laws via Compute-Efficient Model Ladders", arXiv:2412.04403, Eq. 2, Acc(L) = a / (1 + exp(-k (L - L0)))
+ b; here with a = floor - ceiling, b = ceiling, so that the bounds are boxes):

    Acc(L) = floor + (ceiling - floor) / (1 + exp(k (L - L0)))

``downstream-err-sigmoid``, the same curve for an error column (Err = 1 - Acc):

    Err(L) = floor + (ceiling - floor) / (1 + exp(-k (L - L0)))

``downstream-acc-exp`` (Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
tasks", arXiv:2403.08540, Eq. 5, Err = epsilon - k exp(-gamma L), written for accuracy with floor = 1 - epsilon
and ceiling = 1 - epsilon + k exp(-gamma l_ref), the accuracy at L = l_ref):

    Acc(L) = floor + (ceiling - floor) exp(-gamma (L - l_ref))

``downstream-err-exp``, Gadre et al.'s form itself (ceiling = epsilon, floor = epsilon - k exp(-gamma l_ref), the
error at L = l_ref):

    Err(L) = ceiling - (ceiling - floor) exp(-gamma (L - l_ref))

The exponential forms stay in [0, 1] for every loss L >= l_ref (the option ``l_ref``, default 0). No model reaches
a loss below the irreducible loss, so ``--opt l_ref=E`` (about 1.8 nats for C4) bounds what can happen without
forbidding fits such as Gadre et al.'s, whose error would turn negative only below L = 1.32.

Option ``chance`` (e.g. ``--opt chance=0.25`` for a 4-way multiple-choice task) fixes the chance level: the
accuracy floor of the acc laws, the error ceiling 1 - chance of the err laws. Predictions of these laws are
named after the fitted column (``acc_mmlu_pred``), see :data:`COLUMN_NAMED`. The input is a loss ``L``
(``--map L=COLUMN``); the target ``Acc`` (``--target acc_mmlu``) or ``Err``. Residuals are raw by default.
"""

from __future__ import annotations

import math

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Law, Param
from scalefit.laws.factory_options import as_number
from scalefit.laws.registry import register

_FLOOR = (0.0, 0.25, 0.5)
_CEILING = (0.5, 0.8, 1.0)
_K = (0.5, 1.0, 2.0, 4.0, 8.0)
_L0 = (1.0, 2.0, 3.0, 4.0, 5.0)
_GAMMA = (0.1, 0.3, 0.6, 1.0, 2.0)


def _logistic(z):
    """1 / (1 + exp(-z)) without overflow."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


# shape name -> (t(L, p), {shape parameter: dt/dparam}) ; t in [0, 1]
def _sig_down(x, p):
    t = _logistic(-p["k"] * (x["L"] - p["L0"]))
    d = t * (1.0 - t)
    return t, {"k": -d * (x["L"] - p["L0"]), "L0": d * p["k"]}


def _sig_up(x, p):
    t = _logistic(p["k"] * (x["L"] - p["L0"]))
    d = t * (1.0 - t)
    return t, {"k": d * (x["L"] - p["L0"]), "L0": -d * p["k"]}


def _exp_down(x, p):
    u = x["L"] - p["l_ref"]
    e = np.exp(-p["gamma"] * u)
    return e, {"gamma": -u * e}


def _exp_up(x, p):
    u = x["L"] - p["l_ref"]
    e = np.exp(-p["gamma"] * u)
    return 1.0 - e, {"gamma": u * e}


_SIGMOID_PARAMS = (
    Param("k", _K, 0.0, 100.0, log=True, doc="steepness of the transition (per unit of loss)"),
    Param("L0", _L0, -50.0, 50.0, doc="loss at the midpoint between floor and ceiling"),
)
_EXP_PARAMS = (Param("gamma", _GAMMA, 0.0, 50.0, log=True, doc="decay rate in the loss"),)

# name -> (target, shape, shape params, equation, source, floor doc, ceiling doc)
_FORMS = {
    "downstream-acc-sigmoid": (
        "Acc", _sig_down, _SIGMOID_PARAMS, "Acc = floor + (ceiling - floor)/(1 + exp(k*(L - L0)))",
        "Bhagia et al. 2024, Establishing Task Scaling Laws via Compute-Efficient Model Ladders (step 2)",
        "accuracy as the loss grows (chance)", "accuracy as the loss falls"),
    "downstream-err-sigmoid": (
        "Err", _sig_up, _SIGMOID_PARAMS, "Err = floor + (ceiling - floor)/(1 + exp(-k*(L - L0)))",
        "Bhagia et al. 2024, Establishing Task Scaling Laws via Compute-Efficient Model Ladders (step 2)",
        "error as the loss falls", "error as the loss grows (1 - chance)"),
    "downstream-acc-exp": (
        "Acc", _exp_down, _EXP_PARAMS, "Acc = floor + (ceiling - floor)*exp(-gamma*(L - l_ref))",
        "Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks (Eq. 5)",
        "accuracy as the loss grows (chance)", "accuracy at L = l_ref (default 0)"),
    "downstream-err-exp": (
        "Err", _exp_up, _EXP_PARAMS, "Err = ceiling - (ceiling - floor)*exp(-gamma*(L - l_ref))",
        "Gadre et al. 2024, Language models scale reliably with over-training and on downstream tasks (Eq. 5)",
        "error at L = l_ref (default 0)", "error as the loss grows (1 - chance)"),
}
COLUMN_NAMED = frozenset(_FORMS)  # laws whose predictions are named after the fitted column, not the symbol


def _chance(name: str, chance: object) -> float | None:
    if chance is None:
        return None
    v = as_number(chance)
    if not 0.0 <= v <= 1.0:
        raise LawError(f"law {name!r}: option chance must be a number from 0 to 1 (e.g. chance=0.25 for 4 "
                       f"choices), got {chance!r}")
    return v


def _l_ref(name: str, value: object) -> float:
    v = as_number(value)
    if not math.isfinite(v) or "exp" not in name:
        what = "a finite loss (e.g. l_ref=1.8)" if "exp" in name else "not an option of the sigmoid laws"
        raise LawError(f"law {name!r}: option l_ref is {what}, got {value!r}")
    return v


def _build(name: str, chance: object = None, l_ref: object = None) -> Law:
    target, shape, shape_params, equation, source, floor_doc, ceiling_doc = _FORMS[name]
    level = _chance(name, chance)
    ref = 0.0 if l_ref is None else _l_ref(name, l_ref)
    fixed = {} if level is None else ({"floor": level} if target == "Acc" else {"ceiling": 1.0 - level})
    bounds = (
        Param("floor", _FLOOR, 0.0, 1.0, doc=floor_doc),
        Param("ceiling", _CEILING, 0.0, 1.0, doc=ceiling_doc),
    )
    params = tuple(p for p in bounds if p.name not in fixed) + shape_params

    def formula(x, p):
        q = {**fixed, **p, "l_ref": ref}
        t, _ = shape(x, q)
        return q["floor"] + (q["ceiling"] - q["floor"]) * t

    def gradient(x, p):
        q = {**fixed, **p, "l_ref": ref}
        t, dt = shape(x, q)
        span = q["ceiling"] - q["floor"]
        out = {"floor": 1.0 - t, "ceiling": t, **{k: span * v for k, v in dt.items()}}
        return {k: v for k, v in out.items() if k not in fixed}

    note = "".join(f" Chance level fixed at {level:g} ({k} = {v:g})." for k, v in fixed.items())
    return Law(
        name=name, equation=equation, source=source, inputs=("L",), target=target, params=params,
        formula=formula, gradient=gradient, positive_target=False,
        options={**({} if level is None else {"chance": level}), **({} if l_ref is None else {"l_ref": ref})},
        description=(
            f"Input L is a loss (--map L=COLUMN); target {target} an {'accuracy' if target == 'Acc' else 'error'} "
            f"column (--target COLUMN). floor and ceiling stay in [0, 1], so predictions do too; --opt chance=C "
            f"fixes the chance level. Predictions are named after the fitted column.{note}"
        ),
    )


def _factory(name: str):
    """The registered factory of form ``name``: its options are chance and l_ref."""

    def factory(chance: object = None, l_ref: object = None) -> Law:
        return _build(name, chance, l_ref)

    return factory


for _name in _FORMS:
    register(_name)(_factory(_name))
