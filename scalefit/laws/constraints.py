"""Constraining a law: new starts and bounds for some parameters, others held fixed.

    law.constrained(params={"b": (None, 0, 1)}, fix={"L0": 2.0})
    scalefit fit downstream-sigmoid RUNS --param b=:0:1 --fix L0=2

``params`` maps a parameter to ``(init, min, max)``; any of the three may be None (CLI: empty), keeping the law's
own: ``b=:0:1`` keeps b's start grid (the starts inside [0, 1]; a start inside the range when none is) and bounds
it to [0, 1]; ``b=0.5`` adds 0.5 to b's start grid (first, beside the law's starts inside b's bounds: a start a
user gives widens the search, it never narrows it; to search from given points alone, pass ``starts=`` to
``scalefit.fit``). New bounds may widen the law's own (a parameter optimised in log
space keeps ``min >= 0``). ``fix`` holds a parameter at a value inside the law's own bounds: it leaves the free
parameters (no start, no bound, no bootstrap interval, not counted in AIC/BIC), and the formula, its gradient
and the derived quantities see it as a constant.

A constrained law is a :class:`~scalefit.laws.base.Law` like any other (the fitting engine has no special case):
its ``params`` are the free ones, ``fixed`` the held values, and its factory ``options`` carry
``constraints = {"params": {name: [init, min, max]}, "fix": {name: value}}`` so that ``get_law`` (and so a fit
file) rebuilds it. Every bad input is one :class:`~scalefit.errors.LawError` naming the parameter.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from scalefit.errors import LawError
from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.factory_options import as_number

OPTION = "constraints"  # the factory option under which a constrained law records its constraints
Bounds = Mapping[str, object]  # name -> (init, min, max) with None for "the law's own", or a spec string's value

_SPEC_HELP = "write NAME=INIT:MIN:MAX (any part may be empty), e.g. b=:0:1 or alpha=0.3"


def parse_bounds(specs: Sequence[str] | None, option: str = "--param") -> dict[str, tuple]:
    """``["b=:0:1", "alpha=0.3"]`` -> ``{"b": (None, 0.0, 1.0), "alpha": (0.3, None, None)}``."""
    out: dict[str, tuple] = {}
    for spec in specs or []:
        name, value = _split(spec, option, _SPEC_HELP)
        fields = value.split(":")
        if len(fields) not in (1, 3):
            raise LawError(f"{option} {spec!r}: give INIT alone or INIT:MIN:MAX; {_SPEC_HELP}")
        nums = tuple(_number(f, spec, option) for f in fields)
        if nums[0] is None and len(nums) == 1:
            raise LawError(f"{option} {spec!r}: nothing given; {_SPEC_HELP}")
        if name in out:
            raise LawError(f"{option}: parameter {name!r} is given twice")
        out[name] = nums if len(nums) == 3 else (nums[0], None, None)
    return out


def parse_fixed(specs: Sequence[str] | None, option: str = "--fix") -> dict[str, float]:
    """``["L0=2", "b=1"]`` -> ``{"L0": 2.0, "b": 1.0}``."""
    out: dict[str, float] = {}
    for spec in specs or []:
        name, value = _split(spec, option, "write NAME=VALUE, e.g. --fix E=1.69")
        v = _number(value, spec, option)
        if v is None:
            raise LawError(f"{option} {spec!r}: no value; write NAME=VALUE, e.g. --fix E=1.69")
        if name in out:
            raise LawError(f"{option}: parameter {name!r} is given twice")
        out[name] = v
    return out


def _split(spec: object, option: str, hint: str) -> tuple[str, str]:
    name, sep, value = spec.partition("=") if isinstance(spec, str) else ("", "", "")
    if not sep or not name.strip().isidentifier():
        raise LawError(f"{option} {spec!r}: expected NAME=...; {hint}")
    return name.strip(), value.strip()


def _number(text: object, spec: object, option: str) -> float | None:
    if text is None or (isinstance(text, str) and not text.strip()):
        return None
    try:
        v = float(text)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        v = math.nan
    if math.isnan(v):
        raise LawError(f"{option} {spec!r}: {text!r} is not a number")
    return v


def constrain(law: Law, params: Bounds | None = None, fix: Mapping[str, object] | None = None) -> Law:
    """``law`` with new starts/bounds for ``params`` and ``fix``'s parameters held fixed; see the module doc."""
    bounds = {k: _triple(k, v) for k, v in dict(params or {}).items()}
    fixed = {k: _value(k, v) for k, v in dict(fix or {}).items()}
    if not bounds and not fixed:
        return law
    names = law.param_names
    for what, given in (("--param", bounds), ("--fix", fixed)):
        unknown = [k for k in given if k not in names]
        if unknown:
            held = f" ({', '.join(law.fixed)} already fixed)" if law.fixed else ""
            raise LawError(f"{what}: law {law.name!r} has no free parameter {', '.join(map(repr, unknown))}; "
                           f"its parameters are {', '.join(names)}{held}")
    both = sorted(set(bounds) & set(fixed))
    if both:
        raise LawError(f"parameter {', '.join(map(repr, both))} is both bounded (--param) and fixed (--fix); "
                       "give one")
    if len(fixed) == len(names):
        raise LawError(f"--fix holds every parameter of law {law.name!r} ({', '.join(names)}) fixed: nothing is "
                       "left to fit; leave at least one free (or use `scalefit predict --params`)")
    spec = {p.name: p for p in law.params}
    for k, v in fixed.items():
        _check_fixed(spec[k], v)
    free = tuple(_bounded(p, bounds[p.name]) if p.name in bounds else p for p in law.params if p.name not in fixed)
    return _wrapped(law, free, fixed, bounds)


def _triple(name: str, value: object) -> tuple:
    if isinstance(value, str):
        return parse_bounds([f"{name}={value}"])[name]
    if value is None or isinstance(value, (int, float, np.floating)):
        value = (value, None, None)
    if not isinstance(value, (tuple, list)) or len(value) != 3:
        raise LawError(f"params[{name!r}] = {value!r}: expected (init, min, max) with None for the law's own")
    return tuple(_number(v, value, f"params[{name!r}]") for v in value)


def _value(name: str, value: object) -> float:
    v = as_number(value)
    if not math.isfinite(v):
        raise LawError(f"--fix {name}={value}: a fixed value must be a finite number")
    return v


def _check_fixed(p: Param, v: float) -> None:
    if not p.lower <= v <= p.upper:
        raise LawError(f"--fix {p.name}={v:g}: outside the law's domain for {p.name}, [{p.lower:g}, {p.upper:g}]")


def _bounded(p: Param, triple: tuple) -> Param:
    """``p`` with the given (init, min, max), each None keeping p's own; LawError for a bad combination."""
    init, lo, hi = triple
    lo = p.lower if lo is None else lo
    hi = p.upper if hi is None else hi
    where = f"--param {p.name}"
    if not lo < hi:
        raise LawError(f"{where}: min {lo:g} must be below max {hi:g}")
    if p.log and lo < 0:
        raise LawError(f"{where}: {p.name} is optimised in log space, so its min must be >= 0, got {lo:g}")
    if init is not None and not (math.isfinite(init) and lo <= init <= hi):
        raise LawError(f"{where}: init {init:g} lies outside [{lo:g}, {hi:g}]")
    if init is not None and p.log and init <= 0:
        raise LawError(f"{where}: {p.name} is optimised in log space, so its init must be > 0, got {init:g}")
    if init is None:
        grid = _grid_within(p, lo, hi)
    else:  # the user's start first, then the law's own starts inside the bounds
        grid = (init, *(g for g in p.grid if lo <= g <= hi and not (p.log and g <= 0) and g != init))
    return replace(p, grid=grid, lower=lo, upper=hi)


def _grid_within(p: Param, lo: float, hi: float) -> tuple[float, ...]:
    """The law's starts inside [lo, hi]; one interior start when none is."""
    kept = tuple(g for g in p.grid if lo <= g <= hi and not (p.log and g <= 0))
    if kept:
        return kept
    if math.isfinite(lo) and math.isfinite(hi):
        return (math.sqrt(lo * hi),) if p.log and lo > 0 else (lo + (hi - lo) / 2,)
    if math.isfinite(lo):
        return (lo * 10,) if p.log and lo > 0 else (lo + max(1.0, abs(lo)),)
    return (hi / 10,) if p.log else (hi - max(1.0, abs(hi)),)


def _wrapped(law: Law, free: tuple[Param, ...], fixed: dict[str, float], bounds: dict[str, tuple]) -> Law:
    """The Law whose parameters are ``free`` and whose formula, gradient and derived quantities add ``fixed``."""
    base_formula, base_gradient = law.formula, law.gradient
    held = dict(fixed)
    free_names = [p.name for p in free]

    def formula(x, p):
        return base_formula(x, {**p, **held})

    def gradient(x, p):
        g = base_gradient(x, {**p, **held})
        return {k: g[k] for k in free_names}

    derived = {k: Derived(_with_fixed(d.fn, held), d.doc, d.needs) for k, d in law.derived.items()}
    old = dict(law.options.get(OPTION) or {})
    record = {
        "params": {**{k: v for k, v in dict(old.get("params") or {}).items() if k not in held},
                   **{k: [v if v is None or math.isfinite(v) else str(v) for v in t] for k, t in bounds.items()}},
        "fix": {**dict(old.get("fix") or {}), **held},
    }
    record = {k: v for k, v in record.items() if v}
    note = "; ".join(f"{k} fixed at {v:g}" for k, v in {**law.fixed, **held}.items())
    return replace(
        law, params=free, formula=formula, gradient=None if base_gradient is None else gradient,
        derived=derived, fixed={**law.fixed, **held}, options={**law.options, OPTION: record},
        description=f"{law.description} (constrained: {note})" if note else law.description,
    )


def _with_fixed(fn, held: dict[str, float]):
    return lambda params, **extra: fn({**params, **held}, **extra)


def rebuild(law: Law, record: object) -> Law:
    """``law`` (built by its factory) with the constraints recorded in its options (:data:`OPTION`)."""
    if not isinstance(record, Mapping) or set(record) - {"params", "fix"}:
        raise LawError(f"option {OPTION!r} must be an object with 'params' and/or 'fix', got {record!r}")
    return constrain(law, params=record.get("params") or {}, fix=record.get("fix") or {})


def check_values(law: Law, params: Mapping[str, object], what: str, *, every: bool = True) -> dict[str, float]:
    """``params`` as floats, each a parameter of ``law``, finite and inside its bounds (all of them when ``every``);
    LawError naming ``what`` (``simulate chinchilla``, ``fit.json: params``) otherwise."""
    if not isinstance(params, Mapping):
        raise LawError(f"{what}: expected parameter values by name, e.g. {{'E': 1.69}}, got {type(params).__name__}")
    names = list(law.param_names)
    unknown = [k for k in params if k not in names]
    if unknown:
        raise LawError(f"{what}: law {law.name!r} has no parameter {unknown[0]!r}; its parameters are {names}")
    missing = [p for p in names if p not in params]
    if every and missing:
        raise LawError(f"{what}: missing parameters {missing}; give all of {names}")
    out = {}
    for p in law.params:
        if p.name not in params:
            continue
        v = as_number(params[p.name])
        if not math.isfinite(v):
            raise LawError(f"{what}: {p.name}={params[p.name]!r} must be a finite number")
        if not p.lower <= v <= p.upper:
            raise LawError(f"{what}: {p.name}={v:g} is outside the law's domain for {p.name}, "
                           f"[{p.lower:g}, {p.upper:g}]")
        out[p.name] = v
    return out
