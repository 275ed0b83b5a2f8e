"""Reading result files safely: one capped JSON reader and small checkers that every ``from_dict`` uses.

A result file is data, never code, and may have been edited, truncated or written by someone else.
:func:`read_json` refuses what is not a scalefit file before parsing it (not a regular file, over
:data:`MAX_BYTES`, empty, not UTF-8) and while parsing it (invalid JSON, nested deeper than
:data:`MAX_DEPTH`). The ``expect_*`` checkers take a value and its dotted field path (``params.alpha``)
and return it converted, or raise :class:`~scalefit.errors.FitFileError` saying which field holds what
instead of what was expected; :func:`load_result` adds the file name, so every malformed file gives one
line such as ``fit.json: params.alpha: expected a finite number, got 'abc' (a string)``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from scalefit.errors import ArgumentTypeError, ConfigError, FitFileError, ScalefitError

MAX_BYTES = 64 * 2**20  # result files larger than this are refused unread
MAX_DEPTH = 64  # JSON nested deeper than this is refused (scalefit's own files nest < 12 levels)
FIX = "re-create it with the scalefit command that wrote it"

Checker = Callable[[Any, str], Any]
T = TypeVar("T")


def _show(value: Any) -> str:
    """A short description of a JSON value for error messages: its text and its JSON type."""
    if isinstance(value, dict):
        return f"an object with {len(value)} field{'s' * (len(value) != 1)}"
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if value is None or isinstance(value, bool):
        return json.dumps(value)
    text = repr(value)
    text = text if len(text) <= 40 else text[:37] + "..."
    return f"{text} ({'a string' if isinstance(value, str) else 'a number'})"


def _fail(where: str, expected: str, value: Any) -> FitFileError:
    return FitFileError(f"{where}: expected {expected}, got {_show(value)}")


# ---- reading ------------------------------------------------------------------------------------------------
def read_json(path: str | Path, *, what: str = "fit file", hint: str = "") -> Any:
    """The parsed JSON of ``path``; FitFileError (naming the file) for anything that is not readable JSON.

    ``hint`` is appended when the file does not exist (e.g. how to create it).
    """
    p = Path(path)
    if not p.exists():
        raise FitFileError(f"{p}: {what} not found{'; ' + hint if hint else ''}")
    if not p.is_file():
        raise FitFileError(f"{p}: not a regular file; give a {what} written by scalefit")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise FitFileError(f"{p}: {size / 2**20:.0f} MiB is larger than a {what} can be "
                               f"({MAX_BYTES // 2**20} MiB); this is not a {what} written by scalefit")
        with open(p, "rb") as fh:
            raw = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise FitFileError(f"{p}: cannot read the {what}: {exc.strerror or exc}") from None
    if not raw.strip():
        raise FitFileError(f"{p}: the {what} is empty; {FIX}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FitFileError(f"{p}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
                           f"a {what} is JSON written by scalefit") from None
    return parse_json(text, f"{p}", what)


def parse_json(text: str, source: str, what: str = "fit file") -> Any:
    """``json.loads`` with the depth cap; errors are FitFileError naming ``source``."""
    deep = FitFileError(f"{source}: JSON nested more than {MAX_DEPTH} levels deep; "
                        f"this is not a {what} written by scalefit")
    try:
        obj = json.loads(text)
    except RecursionError:
        raise deep from None
    except json.JSONDecodeError as exc:
        raise FitFileError(f"{source}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                           f"a {what} is JSON written by scalefit") from None
    except ValueError as exc:  # e.g. an integer with more digits than Python converts
        raise FitFileError(f"{source}: cannot read the JSON: {exc}; a {what} is JSON written by scalefit") from None
    if nesting_depth(obj) > MAX_DEPTH:
        raise deep
    return obj


def nesting_depth(obj: Any, limit: int = MAX_DEPTH) -> int:
    """Depth of nested lists/objects (a scalar is 0), counted without recursion; stops once past ``limit``."""
    deepest, stack = 0, [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, (list, dict)):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            return deepest
        items = node.values() if isinstance(node, dict) else node
        stack.extend((v, depth + 1) for v in items if isinstance(v, (list, dict)))
    return deepest


def schema_of(path: str | Path, *, what: str = "fit file", hint: str = "") -> str | None:
    """The ``schema`` tag of a result file (None when it has none); FitFileError when it is not readable JSON."""
    obj = read_json(path, what=what, hint=hint)
    schema = obj.get("schema") if isinstance(obj, dict) else None
    return schema if isinstance(schema, str) else None


def load_result(path: str | Path, from_dict: Callable[[Any], T], *, what: str = "fit file", hint: str = "") -> T:
    """Read ``path`` with :func:`read_json` and build the result with ``from_dict``; errors name the file."""
    obj = read_json(path, what=what, hint=hint)
    try:
        return from_dict(obj)
    except FitFileError as exc:
        raise FitFileError(f"{Path(path)}: {exc}; {FIX}") from None


# ---- checkers -----------------------------------------------------------------------------------------------
def expect_mapping(value: Any, where: str) -> dict:
    """A JSON object."""
    if not isinstance(value, dict):
        raise _fail(where, "an object", value)
    return value


def expect_list(value: Any, where: str) -> list:
    """A JSON list."""
    if not isinstance(value, list):
        raise _fail(where, "a list", value)
    return value


def expect_str(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise _fail(where, "a string", value)
    return value


def expect_bool(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, "true or false", value)
    return value


def expect_int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(where, "a whole number", value)
    return value


NON_FINITE = {"inf": math.inf, "-inf": -math.inf}  # how strict JSON writes infinities (scalefit._io.strict_json)


def expect_number(value: Any, where: str) -> float:
    """A number; NaN and infinities are allowed here (null and "inf"/"-inf" as scalefit writes them in strict
    JSON, or the bare NaN/Infinity of older files), see :func:`expect_finite_number`."""
    if value is None:
        return math.nan
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    return _float(value, where, "a number")


def expect_finite_number(value: Any, where: str) -> float:
    """A finite number (not NaN, not an infinity); a value that is no number at all says "expected a number"."""
    v = _float(value, where, "a number")
    if not math.isfinite(v):
        raise _fail(where, "a finite number", value)
    return v


def _float(value: Any, where: str, expected: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, expected, value)
    try:
        return float(value)
    except OverflowError:  # an integer beyond float range
        raise _fail(where, "a finite number", value) from None


def expect_number_list(value: Any, where: str, *, finite: bool = False, length: int | None = None) -> list[float]:
    """A list of numbers (finite ones with ``finite=True``), of ``length`` items when given."""
    items = expect_list(value, where)
    if length is not None and len(items) != length:
        raise FitFileError(f"{where}: expected {length} numbers, got a list of {len(items)}")
    check = expect_finite_number if finite else expect_number
    return [check(v, f"{where}[{i}]") for i, v in enumerate(items)]


def optional(check: Checker) -> Checker:
    """``check`` that also accepts null (None)."""
    return lambda value, where: None if value is None else check(value, where)


def list_of(check: Checker) -> Checker:
    """A list whose every item passes ``check``."""
    return lambda value, where: [check(v, f"{where}[{i}]") for i, v in enumerate(expect_list(value, where))]


def mapping_of(check: Checker) -> Checker:
    """An object whose every value passes ``check``."""
    return lambda value, where: {k: check(v, f"{where}.{k}") for k, v in expect_mapping(value, where).items()}


def pair(value: Any, where: str) -> list[float]:
    """Two numbers, e.g. an interval or a range."""
    return expect_number_list(value, where, length=2)


def ordered_pair(value: Any, where: str) -> list[float]:
    """Two finite numbers, the first not above the second (a range [lo, hi])."""
    lo, hi = expect_number_list(value, where, finite=True, length=2)
    if lo > hi:
        raise FitFileError(f"{where}: expected a range [low, high], got [{lo:g}, {hi:g}] (low above high)")
    return [lo, hi]


def choice(*choices: str) -> Checker:
    """One of ``choices`` (a string enum such as ``stats.space``)."""
    def check(value: Any, where: str) -> str:
        if value not in choices:
            raise _fail(where, f"one of {', '.join(map(repr, choices))}", value)
        return value
    return check


def expect_positive(value: Any, where: str) -> float:
    """A finite number > 0 (a size, a token count, a compute budget)."""
    v = expect_finite_number(value, where)
    if not v > 0:
        raise _fail(where, "a finite number > 0", value)
    return v


def positive_list(value: Any, where: str) -> list[float]:
    """A list of finite numbers > 0."""
    return [expect_positive(v, f"{where}[{i}]") for i, v in enumerate(expect_list(value, where))]


def in_range(lo: float, hi: float = math.inf) -> Checker:
    """A finite number in [lo, hi]."""
    def check(value: Any, where: str) -> float:
        v = expect_finite_number(value, where)
        if not lo <= v <= hi:
            raise _fail(where, f"a number in [{lo:g}, {hi:g}]", value)
        return v
    return check


def expect_filter(value: Any, where: str) -> str | None:
    """A stored row filter: null or a string that passes the safe filter checker."""
    if value is None:
        return None
    text = expect_str(value, where)
    from scalefit.expressions import check_filter

    try:
        check_filter(text, option=where)
    except ScalefitError as exc:
        raise FitFileError(f"{exc} (a stored filter passes the same checker as --where)") from None
    return text


def expect_fields(d: Any, where: str, required: Mapping[str, Checker], optional_: Mapping[str, Checker] = (),
                  *, closed: bool = False) -> dict:
    """Check the object ``d``: every ``required`` field present, each field passing its checker.

    Fields with no checker are kept as they are, or refused when ``closed``. Returns a new dict with
    the checkers' converted values.
    """
    d = expect_mapping(d, where or "the file")
    prefix = f"{where}." if where else ""
    missing = [k for k in required if k not in d]
    if missing:
        raise FitFileError(f"{where or 'the file'}: missing field {', '.join(map(repr, missing))}")
    checks = {**required, **dict(optional_)}
    unknown = [k for k in d if k not in checks]
    if closed and unknown:
        raise FitFileError(f"{where or 'the file'}: unknown field {', '.join(map(repr, unknown))}; it may come "
                           "from a newer scalefit")
    return {k: checks[k](v, f"{prefix}{k}") if k in checks else v for k, v in d.items()}


def fields_of(required: Mapping[str, Checker], optional_: Mapping[str, Checker] = ()) -> Checker:
    """A checker for an object with these fields (see :func:`expect_fields`)."""
    return lambda value, where: expect_fields(value, where, required, optional_)


def expect_schema(d: Any, schemas: tuple[str, ...], what: str) -> str:
    """The object's ``schema`` tag, which must be one of ``schemas``."""
    if not isinstance(d, dict):
        raise FitFileError(f"expected a JSON object holding {what}, got {_show(d)}")
    schema = d.get("schema")
    if schema not in schemas:
        expected = " or ".join(map(repr, schemas))
        raise FitFileError(f"not {what} (schema {_show(schema) if schema is not None else 'missing'}, "
                           f"expected {expected})")
    return schema


def expect_result(d: Any, schemas: tuple[str, ...], what: str, required: Mapping[str, Checker],
                  optional_: Mapping[str, Checker] = (), where: str = "") -> dict:
    """A result file's object: its ``schema`` tag one of ``schemas`` (:func:`expect_schema`), its other fields
    checked and none unknown (:func:`expect_fields`, closed); returns those fields."""
    expect_schema(d, schemas, what)
    return expect_fields({k: v for k, v in d.items() if k != "schema"}, where, required, optional_, closed=True)


# ---- library arguments ----------------------------------------------------------------------------------------
# The same checks for a library call's keyword arguments: a wrong Python type is an ArgumentTypeError (a TypeError)
# naming the argument, a value out of range a ConfigError (a ValueError); the CLI passes its options through them,
# so both print the same message.
MAX_SEED = 2**63 - 1


def _type_name(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:37] + '...'}"


def expect_argument(value: Any, name: str, types: type | tuple[type, ...], expected: str) -> Any:
    """``value`` when it is an instance of ``types``; ArgumentTypeError naming ``name`` otherwise."""
    if not isinstance(value, types):
        raise ArgumentTypeError(f"{name} must be {expected}, got {_type_name(value)}")
    return value


def whole_argument(value: Any, name: str, lo: int = 0, hi: int | None = None) -> int:
    """A whole number (an int, or a float/numpy number equal to one) in [lo, hi]."""
    if isinstance(value, bool) or not _is_number(value) or not math.isfinite(value) or not float(value).is_integer():
        raise ArgumentTypeError(f"{name} must be a whole number, got {_type_name(value)}")
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        upper = "" if hi is None else " to 2**63 - 1" if hi == MAX_SEED else f" to {hi}"
        raise ConfigError(f"{name} {v}: must be a whole number {'from ' + str(lo) + upper if upper else f'>= {lo}'}")
    return v


def seed_argument(value: Any, name: str = "seed") -> int:
    """A random seed: a whole number from 0 to 2**63 - 1 (numpy refuses negative seeds)."""
    return whole_argument(value, name, 0, MAX_SEED)


def number_argument(value: Any, name: str, *, lo: float | None = None, finite: bool = True) -> float:
    """A real number (finite unless ``finite=False``), >= ``lo`` when given."""
    if isinstance(value, bool) or not _is_number(value):
        raise ArgumentTypeError(f"{name} must be a number, got {_type_name(value)}")
    v = float(value)
    if (finite and not math.isfinite(v)) or (lo is not None and not v >= lo):
        raise ConfigError(f"{name} {v:g}: must be a finite number" + (f" >= {lo:g}" if lo is not None else ""))
    return v


def _is_number(value: Any) -> bool:
    import numbers

    return isinstance(value, numbers.Real)
