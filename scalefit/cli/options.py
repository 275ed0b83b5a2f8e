"""Parsing of repeated KEY=VALUE command-line options."""

from __future__ import annotations

from scalefit.errors import ScalefitError


class OptionError(ScalefitError, ValueError):
    """A command-line option has the wrong form."""


def check_group(fit, group: str | None) -> None:
    """``--group`` names a member of a grouped fit; on a fit with one law for every run it is refused, not ignored."""
    if group is not None and not hasattr(fit, "by"):
        raise OptionError(f"--group {group}: this fit is not grouped (one law for every run); drop --group")


def parse_pairs(items: list[str] | None, option: str) -> dict[str, str]:
    """``["N=7e10", "D=1.4e12"]`` -> ``{"N": "7e10", "D": "1.4e12"}``; a comma list stays a string."""
    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise OptionError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} N=7e10")
        if key.strip() in out:
            raise OptionError(f"{option} {key.strip()} is given twice ({key.strip()}={out[key.strip()]} and "
                              f"{item.strip()}); give each key once (a list of values: {key.strip()}=V1,V2)")
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


_TRUE, _FALSE = {"true", "yes", "on", "1", "1.0"}, {"false", "no", "off", "0", "0.0"}


def opt_flag(opts: dict, key: str, default: bool) -> bool:
    """A true/false ``--opt KEY=VALUE`` (true/yes/on/1 or false/no/off/0)."""
    if key not in opts:
        return default
    text = str(opts[key]).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise OptionError(f"--opt {key}={opts[key]}: expected true or false")


def opt_number(opts: dict, key: str, default: float | None) -> float | None:
    """A numeric ``--opt KEY=VALUE``."""
    if key not in opts:
        return default
    try:
        return float(opts[key])
    except (TypeError, ValueError):
        raise OptionError(f"--opt {key}={opts[key]}: expected a number") from None


def procedure_options(call, allowed: set[str], *, what: str = "loss", group_by: bool = True) -> dict:
    """The ``--opt`` settings of a fit procedure (``call``: a :class:`scalefit.cli.fit_cmd.Procedure`), refusing
    unknown keys and options that do not apply."""
    opts, fitting = dict(call.options), call.fitting
    unknown = set(opts) - allowed
    if unknown:
        raise OptionError(
            f"`scalefit fit {call.name}` does not take --opt {sorted(unknown)}; it takes {sorted(allowed)}"
        )
    if fitting.target_mean is not None or fitting.target_glob is not None:
        option = "--target-mean" if fitting.target_mean is not None else "--target-glob"
        raise OptionError(f"`scalefit fit {call.name}` fits {what}; {option} does not apply (use --target COLUMN)")
    if not group_by and fitting.group_by is not None:
        raise OptionError(f"`scalefit fit {call.name}` groups runs itself; --group-by does not apply")
    return opts
