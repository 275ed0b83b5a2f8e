"""Evaluating a checked row filter over a table's columns (numpy arrays), without ``eval``.

Each node of the checked tree maps to one numpy operation; names look up columns. The result must be
one true/false value per row.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping

import numpy as np

from scalefit.errors import RunDataError
from scalefit.expressions._dual import FUNCTIONS
from scalefit.expressions.check import BINOPS, CONSTANTS, Checked, check_filter

_COMPARE = {ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
            ast.Gt: operator.gt, ast.GtE: operator.ge}  # fmt: skip


def _number(v):
    """Python numbers as numpy floats (no big-integer arithmetic; 10**400 becomes inf)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    try:
        return np.float64(v)
    except OverflowError:
        return np.float64(np.inf if v > 0 else -np.inf)


def _as_bool(value, what: str, text: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype != bool:
        raise RunDataError(f"filter {text!r}: {what} needs true/false conditions on each side, "
                           f"e.g. (N >= 1e8) and (loss < 4)")
    return arr


class _Evaluator:
    def __init__(self, text: str, lookup: Callable[[str], np.ndarray]) -> None:
        self.text, self.lookup = text, lookup

    def run(self, node: ast.AST):
        return getattr(self, f"_{type(node).__name__}")(node)

    def _Name(self, node: ast.Name):
        return CONSTANTS[node.id] if node.id in CONSTANTS else self.lookup(node.id)

    def _Constant(self, node: ast.Constant):
        return _number(node.value)

    def _BinOp(self, node: ast.BinOp):
        a, b = self.run(node.left), self.run(node.right)
        return self._apply(BINOPS[type(node.op)], [a, b], node)

    def _UnaryOp(self, node: ast.UnaryOp):
        v = self.run(node.operand)
        if isinstance(node.op, ast.Not):
            return ~_as_bool(v, "`not`", self.text)
        return self._apply(np.negative if isinstance(node.op, ast.USub) else np.positive, [v], node)

    def _BoolOp(self, node: ast.BoolOp):
        parts = [_as_bool(self.run(v), "`and`/`or`", self.text) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = parts[0]
        for p in parts[1:]:
            out = combine(out, p)
        return out

    def _Compare(self, node: ast.Compare):
        left, out = self.run(node.left), None
        for op, right_node in zip(node.ops, node.comparators):
            if isinstance(op, (ast.In, ast.NotIn)):  # the checker allows `in` only unchained, over literals
                values = [_number(e.value) if isinstance(e, ast.Constant) else -_number(e.operand.value)
                          for e in right_node.elts]
                res = np.isin(np.asarray(left, dtype=object), np.asarray(values, dtype=object))
                return ~res if isinstance(op, ast.NotIn) else res
            right = self.run(right_node)
            res = np.asarray(self._apply(_COMPARE[type(op)], [left, right], node), dtype=bool)
            out = res if out is None else np.logical_and(out, res)
            left = right
        return out

    def _Call(self, node: ast.Call):
        args = [self.run(a) for a in node.args]
        return self._apply(FUNCTIONS[node.func.id][0], args, node)

    def _apply(self, fn, args: list, node: ast.AST):
        try:
            with np.errstate(all="ignore"):
                return fn(*args)
        except (TypeError, ValueError, OverflowError) as exc:
            raise RunDataError(f"filter {self.text!r}: cannot compute `{ast.unparse(node)}` on these columns "
                               f"(text and numbers mixed?): {exc}") from None


def evaluate_filter(checked: Checked | str, lookup: Callable[[str], np.ndarray] | Mapping[str, np.ndarray],
                    n_rows: int, option: str = "--where") -> np.ndarray:
    """A boolean mask of ``n_rows`` for a filter; ``lookup(name)`` (or a mapping) gives a column's values."""
    if isinstance(checked, str):
        checked = check_filter(checked, option)
    get = lookup.__getitem__ if isinstance(lookup, Mapping) else lookup
    try:
        mask = _Evaluator(checked.text, get).run(checked.node)
    except RunDataError as exc:
        raise RunDataError(f"{option}: {exc}") from None
    mask = np.asarray(mask)
    if mask.dtype != bool:
        raise RunDataError(f"{option} {checked.text!r} must be a true/false condition, "
                           f"e.g. \"N >= 1e8 and loss < 4\"")
    return np.broadcast_to(mask, (n_rows,)).copy() if mask.ndim == 0 else mask
