"""The whitelisting checker shared by user formulas and row filters.

User text is parsed with :mod:`ast` and every node is checked against a whitelist before anything is
evaluated; nothing here ever calls ``eval``. Two grammars share the walk:

- a **formula** (``expr`` laws): numbers, names, ``+ - * / **``, unary ``-``/``+``, parentheses, the constant
  ``pi`` and calls of the functions in :data:`FUNCTIONS`;
- a **filter** (``--where``, ``--holdout``, a ``where`` stored in a fit file): all of that, plus comparisons
  (``== != < <= > >=``, chained), ``in [...]`` / ``not in [...]`` over a list of literals, ``and``/``or``/``not``,
  string and ``True``/``False`` literals, and backticked names for columns that are not identifiers
  (```Model Size` > 1e9``).

Attribute access, subscripts, calls of anything else, keyword arguments, ``@`` locals, lambdas,
comprehensions, assignments, dunder names, f-strings and bytes are refused with an error that names the
offending construct.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import numpy as np

from scalefit.errors import LawError, RunDataError, UnsafeFilterError, UnsafeFormulaError
from scalefit.expressions._dual import FUNCTIONS

CONSTANTS = {"pi": np.float64(np.pi)}  # named constants a formula or filter may use
MAX_CHARS = 2000  # longest formula or filter accepted
MAX_DEPTH = 100  # nesting depth of the expression tree
MAX_LIST = 1000  # elements of an `in [...]` list

_FN_TEXT = ", ".join(FUNCTIONS)
FORMULA_HELP = (
    "a formula may use numbers, input symbols, parameters, + - * / ** and unary -, parentheses, the constant pi "
    f"and the functions {_FN_TEXT}"
)
FILTER_HELP = (
    "a filter may use column names and symbols (`backticks` around names with spaces), numbers, 'strings', "
    "True/False, comparisons (== != < <= > >=, in [...], not in [...]), and/or/not, + - * / **, parentheses "
    f"and the functions {_FN_TEXT}; e.g. \"N >= 1e8 and loss < 4\""
)

_UNSAFE_KINDS = (
    (ast.Attribute, "attribute access"),
    (ast.Subscript, "a subscript"),
    ((ast.Import, ast.ImportFrom), "an import"),
    (ast.Lambda, "a lambda"),
    ((ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp), "a comprehension"),
    ((ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr), "an assignment"),
    ((ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef), "a definition"),
    (ast.Starred, "argument unpacking"),
    ((ast.JoinedStr, ast.FormattedValue), "an f-string"),
    ((ast.Await, ast.Yield, ast.YieldFrom), "await/yield"),
    ((ast.Dict, ast.Set), "a dict or set"),
    ((ast.Compare, ast.BoolOp, ast.IfExp), "a comparison or condition"),
)
# the arithmetic operators both grammars allow, with the numpy function that evaluates each
BINOPS = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.true_divide, ast.Pow: np.power}
_SPELLED = {"BitAnd": "& (write `and`)", "BitOr": "| (write `or`)", "Invert": "~ (write `not`)",
            "MatMult": "@", "BitXor": "^ (write ** for a power)"}
_COMPARE = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)


@dataclass(frozen=True)
class _Grammar:
    what: str  # "formula" | "filter"
    help: str  # what is allowed, for error messages
    unsafe: type  # error class for a refused construct
    invalid: type  # error class for text that is not an expression at all
    conditions: bool  # comparisons, and/or/not, strings


_FORMULA = _Grammar("formula", FORMULA_HELP, UnsafeFormulaError, LawError, False)
_FILTER = _Grammar("filter", FILTER_HELP, UnsafeFilterError, RunDataError, True)


@dataclass(frozen=True)
class Checked:
    """A checked expression: its text, its syntax tree and the free names it uses, in order of appearance."""

    text: str  # the expression as the user wrote it (stripped)
    node: ast.expr  # the checked tree (backticked names appear as ast.Name with their real text as id)
    names: tuple[str, ...]  # free names (inputs, parameters, columns), without constants and functions


def check_formula(text: object) -> Checked:
    """Parse and whitelist-check a law formula."""
    return _check_text(text, _FORMULA)


def check_filter(text: object, option: str = "--where") -> Checked:
    """Parse and whitelist-check a row filter; ``option`` names it in errors (``--where``, ``--holdout``)."""
    try:
        return _check_text(text, _FILTER)
    except RunDataError as exc:
        raise type(exc)(f"{option}: {exc}") from None


def _check_text(text: object, g: _Grammar) -> Checked:
    if not isinstance(text, str) or not text.strip():
        raise g.invalid(f"a {g.what} must be a non-empty string, got {text!r}")
    if len(text) > MAX_CHARS:
        raise g.invalid(f"{g.what} is {len(text)} characters long; the limit is {MAX_CHARS}")
    text = text.strip()
    source, names = _replace_backticks(text, g) if g.conditions else (text, {})
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise g.invalid(f"{g.what} {text!r} is not a valid expression: {exc.msg} (column {exc.offset}); "
                        f"{g.help}") from None
    except (RecursionError, MemoryError, ValueError) as exc:
        raise g.invalid(f"{g.what} {text!r} cannot be parsed: {exc}") from None
    for stmt in tree.body:
        if not isinstance(stmt, ast.Expr):
            kind = next((w for cls, w in _UNSAFE_KINDS if isinstance(stmt, cls)), f"a {type(stmt).__name__} statement")
            raise _unsafe(text, source, stmt, kind, g, names)
    if len(tree.body) != 1:
        raise g.invalid(f"{g.what} {text!r} must be one expression, not {len(tree.body)} statements")
    node = tree.body[0].value
    found: list[ast.Name] = []
    _Walker(text, source, g, names, found).visit(node, 0)
    found.sort(key=lambda n: (n.lineno, n.col_offset))
    for n in found:
        n.id = names.get(n.id, n.id)
    return Checked(text, node, tuple(dict.fromkeys(n.id for n in found)))


def _replace_backticks(text: str, g: _Grammar) -> tuple[str, dict[str, str]]:
    """Replace each ```name``` outside string literals by a placeholder identifier; return the map back.

    Also refuses pandas' ``@name`` local-variable syntax by name, wherever it appears outside a string.
    """
    prefix = "_bt"
    while prefix in text:
        prefix += "_"
    out, names, i, quote = [], {}, 0, None
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                out.append(text[i:i + 2])
                i += 2
                continue
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c == "@":
            raise g.unsafe(f"unsafe {g.what} {text!r}: `@` (pandas' local variables) is not allowed "
                           f"(column {i + 1}); {g.help}")
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                raise g.invalid(f"{g.what} {text!r}: a backtick at column {i + 1} is never closed")
            name = text[i + 1:end]
            if not name.strip():
                raise g.invalid(f"{g.what} {text!r}: empty backticked name at column {i + 1}")
            key = f"{prefix}{len(names)}"
            names[key] = name
            out.append(key)
            i = end + 1
            continue
        out.append(c)
        i += 1
    return "".join(out), names


def _unsafe(text: str, source: str, node: ast.AST, what: str, g: _Grammar, names: dict) -> Exception:
    seg = ast.get_source_segment(source, node) or ast.unparse(node)
    for key, name in names.items():
        seg = seg.replace(key, f"`{name}`")
    return g.unsafe(f"unsafe {g.what} {text!r}: {what} is not allowed (found `{seg}`); {g.help}")


def _op_name(op: ast.AST) -> str:
    return _SPELLED.get(type(op).__name__, type(op).__name__)


class _Walker:
    """Checks every node against the grammar; collects the free names."""

    def __init__(self, text: str, source: str, g: _Grammar, names: dict, found: list) -> None:
        self.text, self.source, self.g, self.names, self.found = text, source, g, names, found

    def refuse(self, node: ast.AST, what: str) -> Exception:
        return _unsafe(self.text, self.source, node, what, self.g, self.names)

    def visit(self, node: ast.AST, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise self.g.invalid(f"{self.g.what} {self.text!r} is nested more than {MAX_DEPTH} levels deep")
        handler = getattr(self, f"_{type(node).__name__}", None)
        if handler is None:
            kind = next((w for cls, w in _UNSAFE_KINDS if isinstance(node, cls)), f"a {type(node).__name__} expression")
            raise self.refuse(node, kind)
        handler(node, depth + 1)

    def _BinOp(self, node: ast.BinOp, depth: int) -> None:
        if type(node.op) not in BINOPS:
            raise self.refuse(node, f"the operator {_op_name(node.op)}")
        self.visit(node.left, depth)
        self.visit(node.right, depth)

    def _UnaryOp(self, node: ast.UnaryOp, depth: int) -> None:
        allowed = (ast.UAdd, ast.USub, ast.Not) if self.g.conditions else (ast.UAdd, ast.USub)
        if not isinstance(node.op, allowed):
            raise self.refuse(node, f"the operator {_op_name(node.op)}")
        self.visit(node.operand, depth)

    def _BoolOp(self, node: ast.BoolOp, depth: int) -> None:
        if not self.g.conditions:
            raise self.refuse(node, "a comparison or condition")
        for value in node.values:
            self.visit(value, depth)

    def _Compare(self, node: ast.Compare, depth: int) -> None:
        if not self.g.conditions:
            raise self.refuse(node, "a comparison or condition")
        self.visit(node.left, depth)
        if len(node.ops) > 1 and any(isinstance(op, (ast.In, ast.NotIn)) for op in node.ops):
            raise self.refuse(node, "`in` inside a chained comparison (put it in parentheses of its own)")
        for op, right in zip(node.ops, node.comparators):
            if not isinstance(op, _COMPARE):
                raise self.refuse(node, f"the comparison {type(op).__name__} (use == or !=)")
            if isinstance(op, (ast.In, ast.NotIn)):
                self._literal_list(right)
            else:
                self.visit(right, depth)

    def _literal_list(self, node: ast.AST) -> None:
        if not isinstance(node, (ast.List, ast.Tuple)):
            raise self.refuse(node, "`in` with anything but a list of literals such as ['c4', 'rpj']")
        if len(node.elts) > MAX_LIST:
            raise self.refuse(node, f"a list of more than {MAX_LIST} values")
        for elt in node.elts:
            if isinstance(elt, ast.UnaryOp) and isinstance(elt.op, ast.USub):
                elt = elt.operand
            if not isinstance(elt, ast.Constant) or not isinstance(elt.value, (int, float, str)):
                raise self.refuse(elt, "a list element that is not a number or a string")

    def _Call(self, node: ast.Call, depth: int) -> None:
        func = node.func
        if not isinstance(func, ast.Name):
            self.visit(func, depth)  # reports what the callee is made of (lambda, attribute ...)
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            raise self.refuse(node, f"a call to {ast.unparse(func)}")
        if node.keywords:
            raise self.refuse(node, "a keyword argument")
        for arg in node.args:
            self.visit(arg, depth)
        arity = FUNCTIONS[func.id][1]
        if len(node.args) != arity:
            raise self.g.invalid(f"{self.g.what} {self.text!r}: {func.id}() takes {arity} argument(s), "
                                 f"got {len(node.args)}")

    def _Name(self, node: ast.Name, depth: int) -> None:
        if node.id.startswith("__"):
            raise self.refuse(node, "a dunder name")
        if node.id in FUNCTIONS:
            raise self.g.invalid(f"{self.g.what} {self.text!r}: {node.id} is a function; call it, e.g. {node.id}(x)")
        if node.id not in CONSTANTS:
            self.found.append(node)

    def _Constant(self, node: ast.Constant, depth: int) -> None:
        v = node.value
        numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
        if numeric or (self.g.conditions and isinstance(v, (str, bool))):
            return
        raise self.refuse(node, "a non-numeric constant" if not self.g.conditions else f"the constant {v!r}")
