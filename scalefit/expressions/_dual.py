"""Forward-mode derivatives for ``expr`` formulas: numbers that carry their partial derivatives.

A :class:`Dual` holds a value and a sparse dict ``{parameter: d value / d parameter}``; arithmetic
and the whitelisted functions propagate both, so one evaluation of a formula gives its value and
its exact gradient with respect to every parameter. Plain numpy arrays (inputs, constants) act as
constants. Only parameters that reach a sub-expression carry derivatives through it.
"""

from __future__ import annotations

import numpy as np


class Dual:
    """A value with partial derivatives ``d`` (parameter name -> array broadcastable to the value)."""

    __slots__ = ("v", "d")

    def __init__(self, v, d: dict) -> None:
        self.v = v
        self.d = d

    def __neg__(self) -> Dual:
        return Dual(-self.v, {k: -g for k, g in self.d.items()})

    def __pos__(self) -> Dual:
        return self


def value(a):
    return a.v if isinstance(a, Dual) else a


def _derivs(a) -> dict:
    return a.d if isinstance(a, Dual) else {}


def _combine(da: dict, ca, db: dict, cb) -> dict:
    """ca * da + cb * db, key by key (a missing key is a zero derivative)."""
    out = {k: ca * g for k, g in da.items()}
    for k, g in db.items():
        out[k] = out[k] + cb * g if k in out else cb * g
    return out


def add(a, b):
    return Dual(value(a) + value(b), _combine(_derivs(a), 1.0, _derivs(b), 1.0))


def sub(a, b):
    return Dual(value(a) - value(b), _combine(_derivs(a), 1.0, _derivs(b), -1.0))


def mul(a, b):
    va, vb = value(a), value(b)
    return Dual(va * vb, _combine(_derivs(a), vb, _derivs(b), va))


def div(a, b):
    va, vb = value(a), value(b)
    v = va / vb
    return Dual(v, _combine(_derivs(a), 1.0 / vb, _derivs(b), -v / vb))


def power(a, b):
    va, vb = value(a), value(b)
    v = np.power(va, vb)
    da, db = _derivs(a), _derivs(b)
    ca = vb * np.power(va, vb - 1.0) if da else 0.0
    cb = v * np.log(va) if db else 0.0
    return Dual(v, _combine(da, ca, db, cb))


BINARY = {"Add": add, "Sub": sub, "Mult": mul, "Div": div, "Pow": power}


def _unary(fn, deriv):
    """Wrap ``fn`` so a Dual argument also carries ``deriv(x, fn(x)) * dx``."""

    def wrapped(a):
        if not isinstance(a, Dual):
            return fn(a)
        v = fn(a.v)
        c = deriv(a.v, v)
        return Dual(v, {k: c * g for k, g in a.d.items()})

    wrapped.__name__ = getattr(fn, "__name__", "function")
    return wrapped


def _select(mask, a, b):
    """Derivatives of a where ``mask`` else of b."""
    da, db = _derivs(a), _derivs(b)
    return {k: np.where(mask, da.get(k, 0.0), db.get(k, 0.0)) for k in {*da, *db}}


def _minimum(a, b):
    if not (isinstance(a, Dual) or isinstance(b, Dual)):
        return np.minimum(a, b)
    va, vb = value(a), value(b)
    return Dual(np.minimum(va, vb), _select(va <= vb, a, b))


def _maximum(a, b):
    if not (isinstance(a, Dual) or isinstance(b, Dual)):
        return np.maximum(a, b)
    va, vb = value(a), value(b)
    return Dual(np.maximum(va, vb), _select(va >= vb, a, b))


def _logaddexp(a, b):
    if not (isinstance(a, Dual) or isinstance(b, Dual)):
        return np.logaddexp(a, b)
    va, vb = value(a), value(b)
    v = np.logaddexp(va, vb)
    wa = np.exp(va - v)
    return Dual(v, _combine(_derivs(a), wa, _derivs(b), 1.0 - wa))


def _clip(a, lo, hi):
    if not any(isinstance(t, Dual) for t in (a, lo, hi)):
        return np.clip(a, lo, hi)
    va, vlo, vhi = value(a), value(lo), value(hi)
    inner = _select(va < vlo, lo, a)
    dhi = _derivs(hi)
    d = {k: np.where(va > vhi, dhi.get(k, 0.0), inner.get(k, 0.0)) for k in {*inner, *dhi}}
    return Dual(np.minimum(np.maximum(va, vlo), vhi), d)


def sigmoid(x):
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(x, dtype=float)))


def softplus(x):
    return np.logaddexp(0.0, x)


_LN10, _LN2 = np.log(10.0), np.log(2.0)

# name -> (dual-aware function, number of arguments)
FUNCTIONS: dict[str, tuple[object, int]] = {
    "exp": (_unary(np.exp, lambda x, v: v), 1),
    "log": (_unary(np.log, lambda x, v: 1.0 / x), 1),
    "log10": (_unary(np.log10, lambda x, v: 1.0 / (x * _LN10)), 1),
    "log2": (_unary(np.log2, lambda x, v: 1.0 / (x * _LN2)), 1),
    "log1p": (_unary(np.log1p, lambda x, v: 1.0 / (1.0 + x)), 1),
    "expm1": (_unary(np.expm1, lambda x, v: v + 1.0), 1),
    "sqrt": (_unary(np.sqrt, lambda x, v: 0.5 / v), 1),
    "abs": (_unary(np.abs, lambda x, v: np.sign(x)), 1),
    "tanh": (_unary(np.tanh, lambda x, v: 1.0 - v * v), 1),
    "sigmoid": (_unary(sigmoid, lambda x, v: v * (1.0 - v)), 1),
    "softplus": (_unary(softplus, lambda x, v: sigmoid(x)), 1),
    "minimum": (_minimum, 2),
    "maximum": (_maximum, 2),
    "logaddexp": (_logaddexp, 2),
    "clip": (_clip, 3),
}
