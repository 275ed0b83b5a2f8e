"""User laws: a formula string over input symbols and named parameters, evaluated safely.

    L = <formula>, e.g. "E + A/N**alpha + B/D**beta"

    get_law("expr", formula="E + A/N**alpha + B/D**beta",
            params=["E=1:0:10", "A=100:0:1e6", "B=100:0:1e6", "alpha=0.3:0:2", "beta=0.3:0:2"])
    scalefit fit expr runs.csv --formula "E + A/N**alpha" --param E=1:0:10 --param A=100:0:1e6 --param alpha=0.3:0:2

Source: no paper; the law is the user's. The formula is Python expression syntax. Every name in it
that is not a parameter (and not a function or ``pi``) is an input symbol, resolved from the run log
like the built-in laws' symbols (``N`` <- ``n_params`` ...; any other name must be a column).

Safety. The formula is parsed once with :mod:`ast` and checked against a whitelist before it is handed
to asteval (never Python ``eval``): numbers, names, ``+ - * / **``, unary ``-``/``+``, parentheses and
calls of the functions in :data:`FUNCTIONS`. Attribute access, subscripts, imports, lambdas,
comprehensions, assignments, strings, dunder names and any other call raise
:class:`~scalefit.errors.UnsafeFormulaError`. asteval runs with every other node type disabled.
Numbers are evaluated as numpy floats, so ``**`` overflows to inf instead of building huge integers.

Parameters are ``name=init`` or ``name=init:min:max`` (an empty bound is unbounded, ``inf`` allowed),
optionally followed by ``:log`` or ``:lin`` to choose the optimisation scale. By default a parameter
is optimised as log(value) when that is safe and useful: ``min >= 0``, ``init > 0``, and ``max`` lies at
least three decades above ``max(min, init)`` (e.g. ``A=100:0:1e6``, ``E=1:0:inf``); otherwise it is
optimised as its value (``alpha=0.3:0:2``, ``E=1:0:10``, unbounded parameters). A log-scaled parameter
can approach but never equal 0.

Start grid. Each parameter starts from its init; a parameter with two finite bounds also starts from
up to three interior points (log-spaced for log-scale ranges, from ``init/1e3`` when ``min`` is 0, else
evenly spaced), as many as keep the grid at most :data:`MAX_STARTS` starts (1024: five bounded
parameters get four start values each).
"""

from __future__ import annotations

import ast
import copy
import keyword
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from asteval import Interpreter

from scalefit import expressions
from scalefit.errors import LawError
from scalefit.expressions import BINOPS, CONSTANTS, DUAL_BINARY, FUNCTIONS, Dual
from scalefit.laws.base import Law, Param
from scalefit.laws.registry import register

MAX_STARTS = 1024  # cap on the start grid built from the parameter specs
DEFAULT_FORMULA = "E + A/N**alpha + B/D**beta"
DEFAULT_PARAMS = ("E=1:0:10", "A=100:0:1e6", "B=100:0:1e6", "alpha=0.3:0:2", "beta=0.3:0:2")



# ---- formula checking ------------------------------------------------------------------------
def check_formula(text: object) -> tuple[ast.expr, list[str]]:
    """Parse and whitelist-check ``text`` (:mod:`scalefit.expressions`); its expression node and free names."""
    if not isinstance(text, str) or not text.strip():
        raise LawError(f"law 'expr' needs a formula string such as {DEFAULT_FORMULA!r}, got {text!r}")
    checked = expressions.check_formula(text)
    return checked.node, list(checked.names)


# ---- parameter specs -------------------------------------------------------------------------
@dataclass(frozen=True)
class ParamSpec:
    """A parameter parsed from ``name=init[:min:max][:log|:lin]``."""

    name: str  # parameter name as used in the formula
    init: float  # start value
    lower: float  # lower bound (-inf when unbounded)
    upper: float  # upper bound (inf when unbounded)
    log: bool  # optimise log(value)


_SPEC_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*$")
_SPEC_HELP = "write name=init or name=init:min:max (optionally :log or :lin), e.g. A=100:0:1e6"


def _number(text: str, field: str, spec: str, default: float) -> float:
    s = field.strip()
    if s == "" and math.isinf(default):
        return default
    try:
        v = float(s)
    except ValueError:
        v = math.nan
    if math.isnan(v):
        raise LawError(f"parameter spec {spec!r}: {text} {field!r} is not a number; {_SPEC_HELP}")
    return v


def parse_param(spec: object) -> ParamSpec:
    """Parse one parameter spec string; raise LawError naming the offending text."""
    m = _SPEC_RE.match(spec) if isinstance(spec, str) else None
    if m is None:
        raise LawError(f"parameter spec {spec!r}: expected NAME=VALUE; {_SPEC_HELP}")
    name, fields = m.group(1), m.group(2).split(":")
    mode = "auto"
    if len(fields) in (2, 4) and fields[-1].strip().lower() in ("log", "lin"):
        mode = fields.pop().strip().lower()
    if len(fields) not in (1, 3):
        raise LawError(f"parameter spec {spec!r}: give init alone or init:min:max; {_SPEC_HELP}")
    init = _number("init", fields[0], spec, math.nan)
    lo = _number("min", fields[1], spec, -math.inf) if len(fields) == 3 else -math.inf
    hi = _number("max", fields[2], spec, math.inf) if len(fields) == 3 else math.inf
    if not math.isfinite(init):
        raise LawError(f"parameter spec {spec!r}: init must be a finite number; {_SPEC_HELP}")
    if not lo < hi:
        raise LawError(f"parameter spec {spec!r}: min {lo:g} must be below max {hi:g}")
    if not lo <= init <= hi:
        raise LawError(f"parameter spec {spec!r}: init {init:g} lies outside [{lo:g}, {hi:g}]")
    can_log = lo >= 0 and init > 0
    if mode == "log" and not can_log:
        raise LawError(f"parameter spec {spec!r}: :log needs min >= 0 and init > 0")
    log = mode == "log" or (mode == "auto" and can_log and hi / max(lo, init) >= 1e3)
    return ParamSpec(name, init, lo, hi, log)


def _spread(s: ParamSpec, k: int) -> tuple[float, ...]:
    """The init plus ``k`` interior points of a doubly bounded range."""
    if k == 0 or not (math.isfinite(s.lower) and math.isfinite(s.upper)):
        return (s.init,)
    if s.log:
        a = s.lower if s.lower > 0 else s.init / 1e3
        pts = np.geomspace(a, s.upper, k + 2)[1:-1]
    else:
        pts = np.linspace(s.lower, s.upper, k + 2)[1:-1]
    vals = [s.init] + [float(v) for v in pts if not math.isclose(v, s.init, rel_tol=1e-6)]
    return tuple(min(max(v, s.lower), s.upper) for v in vals)


def start_values(specs: Sequence[ParamSpec]) -> list[tuple[float, ...]]:
    """Per-parameter start values: bounded parameters get up to 3 interior points each, added one
    point per parameter per round (in order) while the grid stays within MAX_STARTS."""
    grids = [_spread(s, 0) for s in specs]
    for k in (1, 2, 3):
        for i, s in enumerate(specs):
            wider = _spread(s, k)
            if math.prod(len(g) for g in grids) // len(grids[i]) * len(wider) <= MAX_STARTS:
                grids[i] = wider
    return grids


# ---- evaluation ------------------------------------------------------------------------------
def _numpy_constants(node: ast.expr) -> ast.expr:
    """A copy of the tree whose numbers are numpy floats (no big-integer arithmetic, overflow -> inf)."""
    tree = copy.deepcopy(node)
    for sub in ast.walk(tree):
        if isinstance(sub, ast.Constant):
            sub.value = np.float64(sub.value)
    return tree


_ASTEVAL_NODES = {"binop", "unaryop", "call", "name", "constant", "expr", "module"}


def _binop(interp: Interpreter, node: ast.BinOp):
    a, b = interp.run(node.left), interp.run(node.right)
    if isinstance(a, Dual) or isinstance(b, Dual):
        return DUAL_BINARY[type(node.op).__name__](a, b)
    return BINOPS[type(node.op)](a, b)


class FormulaEvaluator:
    """Evaluates a checked formula with asteval; one interpreter per thread, created on first use.

    ``evaluator(values)`` gives the formula's value; ``evaluator.gradient(inputs, params)`` its exact
    partial derivatives with respect to every parameter (forward mode, one pass; see ``_dual``).
    """

    def __init__(self, text: str, node: ast.expr) -> None:
        self.text = text
        self.node = _numpy_constants(node)
        self._local = threading.local()

    def _interpreter(self) -> Interpreter:
        interp = getattr(self._local, "interp", None)
        if interp is None:
            from asteval.asteval import ALL_NODES

            symtable = {name: fn for name, (fn, _) in FUNCTIONS.items()} | dict(CONSTANTS)
            config = {n: n in _ASTEVAL_NODES for n in ALL_NODES}
            interp = Interpreter(symtable=symtable, minimal=True, use_numpy=False, config=config)
            interp.node_handlers["binop"] = lambda n: _binop(interp, n)
            interp.expr = self.text
            self._local.interp = interp
        return interp

    def _run(self, values: dict):
        interp = self._interpreter()
        interp.symtable.update(values)
        interp.error, interp.error_msg, interp.retval, interp._interrupt = [], None, None, None
        try:
            out = interp.run(self.node, with_raise=True)
        except Exception as exc:  # asteval re-raises the evaluation error with its own message
            raise LawError(f"formula {self.text!r} could not be evaluated: {exc}") from None
        if out is None:
            raise LawError(f"formula {self.text!r} could not be evaluated: {interp.error_msg}")
        return out

    def __call__(self, values: dict) -> np.ndarray:
        return np.asarray(self._run(values), dtype=float)

    def gradient(self, x: dict, p: dict) -> dict:
        out = self._run({**x, **{k: Dual(v, {k: 1.0}) for k, v in p.items()}})
        d = out.d if isinstance(out, Dual) else {}
        return {k: d.get(k, 0.0) for k in p}


# ---- the law ---------------------------------------------------------------------------------
def _check_names(specs: Sequence[ParamSpec], names: Sequence[str], text: str, target: str) -> tuple[str, ...]:
    seen: set[str] = set()
    for s in specs:
        if s.name in seen:
            raise LawError(f"parameter {s.name!r} is given twice")
        seen.add(s.name)
        if keyword.iskeyword(s.name) or s.name.startswith("__") or s.name in FUNCTIONS or s.name in CONSTANTS:
            raise LawError(f"parameter name {s.name!r} is reserved; choose another name")
        if s.name == target:
            raise LawError(f"parameter {s.name!r} has the name of the target symbol; choose another name")
        if s.name not in names:
            raise LawError(f"parameter {s.name!r} does not appear in formula {text!r}; remove it or use it")
    inputs = tuple(n for n in names if n not in seen)
    if target in inputs:
        raise LawError(f"formula {text!r} uses the target {target!r} as an input; the formula must give {target}")
    if not inputs:
        raise LawError(f"formula {text!r} uses no input symbols: every name in it is a parameter")
    return inputs


@register("expr")
def expr(formula: str = DEFAULT_FORMULA, params: Sequence[str] | str | None = None, target: str = "L") -> Law:
    if params is None:
        if formula != DEFAULT_FORMULA:
            raise LawError(f"law 'expr': formula {formula!r} needs parameter specs; {_SPEC_HELP}")
        params = DEFAULT_PARAMS
    params = [params] if isinstance(params, str) else list(params)
    if not params:
        raise LawError(f"law 'expr' needs at least one parameter; {_SPEC_HELP}")
    if not isinstance(target, str) or not target.isidentifier():
        raise LawError(f"law 'expr': target must be a symbol name such as 'L' or 'Err', got {target!r}")
    node, names = check_formula(formula)
    text = formula.strip()
    specs = [parse_param(p) for p in params]
    inputs = _check_names(specs, names, text, target)
    evaluate = FormulaEvaluator(text, node)
    grids = start_values(specs)
    return Law(
        name="expr",
        equation=f"{target} = {text}",
        source="user formula (no paper), evaluated safely with asteval",
        inputs=inputs,
        params=tuple(
            Param(s.name, g, s.lower, s.upper, log=s.log, doc=f"user parameter, init {s.init:g}")
            for s, g in zip(specs, grids)
        ),
        formula=lambda x, p: evaluate({**x, **p}),
        gradient=evaluate.gradient,
        target=target,
        options={"formula": text, "params": [p.strip() for p in params], "target": target},
        description="User formula. Parameters: " + ", ".join(
            f"{s.name} (init {s.init:g}, [{s.lower:g}, {s.upper:g}]{', log scale' if s.log else ''})" for s in specs
        ),
    )
