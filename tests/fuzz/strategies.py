"""Hypothesis strategies shared by the fuzz tests: awkward numbers, text, filter expressions, option values."""

from __future__ import annotations

import math

from hypothesis import strategies as st

SPECIAL = [math.nan, math.inf, -math.inf, 0.0, -0.0, -1.0, 1e-320, 1e-300, 1e300, 1.7e308, -1e308, 2**63, -(2**63)]


def numbers() -> st.SearchStrategy[float]:
    """Floats and ints, with the special values (NaN, infinities, zero, negatives, subnormals, huge) often."""
    return st.one_of(st.sampled_from(SPECIAL), st.floats(allow_nan=True, allow_infinity=True),
                     st.floats(min_value=1e-3, max_value=1e13), st.integers(-10**20, 10**20))


def number_text() -> st.SearchStrategy[str]:
    """A number as command-line text, or text that is almost a number."""
    weird = st.sampled_from(["nan", "inf", "-inf", "1e400", "-1e400", "0x10", "1_000", "1,5", "", " ", "abc", "1e",
                             "--1", "1e-400", "9" * 400, "١", "½", "True", "None", "\x00", "1e9\n"])
    return st.one_of(numbers().map(repr), numbers().map(str), weird)


def text(max_size: int = 12) -> st.SearchStrategy[str]:
    """Short text: control characters, quotes, unicode, separators."""
    return st.one_of(st.text(max_size=max_size), st.sampled_from(["", " ", "\t", "=", ",", "'", '"', "\x1b[31m", "é",
                                                                 "😀", "a b", "../x", "/etc/passwd", "-h", "--out"]))


SYMBOLS = ["N", "D", "C", "M", "L", "n", "x", "lr", "B", "width", "n_params", "n_tokens", "loss", "flops", "dataset",
           "run_id", "step", "é", "", " ", "N ", "__class__"]
COLUMNS = ["n_params", "n_tokens", "flops", "loss", "dataset", "run_id", "step", "N", "D", "C", "L"]


def filters() -> st.SearchStrategy[str]:
    """Row filters: valid comparisons and combinations of them, and arbitrary text."""
    name = st.sampled_from(["N", "D", "C", "loss", "n_params", "dataset", "step", "x", "`n params`", "L"])
    op = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
    value = st.one_of(numbers().map(repr), st.sampled_from(["'c4'", "'rpj'", "nan", "1e9", "-1"]))
    atom = st.builds(lambda a, o, b: f"{a} {o} {b}", name, op, value)
    combined = st.recursive(atom, lambda inner: st.one_of(
        st.builds(lambda a, b: f"({a}) and ({b})", inner, inner),
        st.builds(lambda a, b: f"{a} or {b}", inner, inner),
        st.builds(lambda a: f"not ({a})", inner)), max_leaves=4)
    return st.one_of(combined, text(20), st.sampled_from(["", "   ", "N in [1, 2]", "dataset in ['c4']", "log(N) > 20",
                                                          "N > 1e8 and", "__import__('os')", "N >"]))


def pairs(keys: list[str], values: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[str]:
    """KEY=VALUE option text (sometimes malformed)."""
    values = values if values is not None else number_text()
    good = st.builds(lambda k, v: f"{k}={v}", st.sampled_from(keys), values)
    return st.one_of(good, good, text(10))
