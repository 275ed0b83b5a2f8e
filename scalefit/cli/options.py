"""Parsing of repeated KEY=VALUE command-line options."""

from __future__ import annotations

from scalefit.errors import ScalefitError


class OptionError(ScalefitError, ValueError):
    """A command-line option has the wrong form."""


def parse_pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """``["N=7e10", "D=1.4e12"]`` -> ``{"N": "7e10", "D": "1.4e12"}``; a comma list stays a string."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise OptionError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} N=7e10")
        out[key.strip()] = value.strip()
    return out


def parse_floats(items: list[str] | None, option: str) -> dict[str, list[float]]:
    """``["N=1e9,7e10"]`` -> ``{"N": [1e9, 7e10]}``."""
    out = {}
    for key, value in parse_pairs(items, option).items():
        try:
            out[key] = [float(v) for v in value.split(",")]
        except ValueError:
            raise OptionError(f"{option} {key}={value}: not a number (use e.g. {key}=7e10 or {key}=1e9,7e10)") from None
    return out


def parse_params(text: str | None, option: str = "--params") -> dict[str, float]:
    """``"E=1.69,A=406.4"`` -> ``{"E": 1.69, "A": 406.4}``."""
    if not text:
        return {}
    return {k: v[0] for k, v in parse_floats(text.split(","), option).items()}
