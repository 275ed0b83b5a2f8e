"""Checked factory options shared by the law families: a symbol name, a number, a whole count, a yes/no flag.

Options reach a factory from Python, from a fit file (JSON) or from the command line (``--opt n=3``
arrives as the float 3.0, ``--opt simplex=false`` as the string "false"), so each checker accepts those
spellings and returns the canonical value the law stores in ``Law.options``.
"""

from __future__ import annotations

import keyword
import math

from scalefit.errors import LawError

_TRUE = ("true", "yes", "1", "on")
_FALSE = ("false", "no", "0", "off")


def symbol_option(law: str, name: str, value: object, reserved: tuple[str, ...]) -> str:
    """A symbol name (an identifier that is neither a keyword nor one of the law's own names)."""
    if not isinstance(value, str) or not value.isidentifier() or keyword.iskeyword(value):
        raise LawError(f"law {law!r}: {name} must be a symbol name such as 'C', 'N' or 'D' (an identifier), "
                       f"got {value!r}")
    if value in reserved:
        raise LawError(f"law {law!r}: {name}={value!r} clashes with the law's own names {list(reserved)}; "
                       f"map the column to another symbol, e.g. {name}='D' with --map D=COLUMN")
    return value


def as_number(value: object) -> float:
    """``value`` as a float (3, 3.0, "3", "1e8" and so on); NaN for anything else, a bool included, so that the
    caller's range check refuses it with its own message."""
    if isinstance(value, bool):
        return math.nan
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def int_option(law: str, name: str, value: object, lo: int, hi: int) -> int:
    """A whole number in [lo, hi] (3, 3.0 and "3" all give 3)."""
    v = as_number(value)
    if not (math.isfinite(v) and v == int(v) and lo <= v <= hi):
        raise LawError(f"law {law!r}: option {name} must be a whole number from {lo} to {hi}, got {value!r}")
    return int(v)


def bool_option(law: str, name: str, value: object) -> bool:
    """A yes/no flag: a bool, or one of true/false, yes/no, 1/0, on/off."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise LawError(f"law {law!r}: option {name} must be true or false, got {value!r}")


def choice_option(law: str, name: str, value: object, choices: tuple[str, ...]) -> str:
    """One of a fixed set of words."""
    if value not in choices:
        raise LawError(f"law {law!r}: option {name} must be one of {list(choices)}, got {value!r}")
    return str(value)
