"""What an interval is, said one way everywhere: its kind and its level.

Three kinds, one vocabulary for every output (report tables, CSV columns, JSON, plot legends, the library):

- ``prediction``: where a new run at the inputs would land (run-to-run noise and the error that extrapolating the
  law brings, calibrated on the fit's extrapolation folds: :mod:`scalefit.fitting.calibration`). The default for
  predictions, in the library and the CLI alike.
- ``mean``: the uncertainty of the fitted curve itself (the bootstrap band, or the delta-method interval from the
  parameter covariance): "interval of the fitted curve". It does not hold the run-to-run noise, so new runs fall
  outside it far more often than 1 − level.
- ``parameter``: the uncertainty of a fitted parameter or a quantity derived from the parameters (N*, D*, lr*).
"""

from __future__ import annotations

KINDS = ("prediction", "mean", "parameter")
DEFAULT = "prediction"  # the interval of a prediction, in the library and the CLI
NAMES = {"prediction": "prediction interval", "mean": "interval of the fitted curve",
         "parameter": "parameter interval"}
MEANING = {"prediction": "where a new run would land: its noise and the error of extrapolating",
           "mean": "the uncertainty of the fitted curve; new runs scatter around it by the run-to-run noise",
           "parameter": "the uncertainty of the fitted parameters and the quantities derived from them"}


def label(kind: str, level: float) -> str:
    """``"95% prediction interval"``, ``"95% interval of the fitted curve"``, ``"95% parameter interval"``."""
    return f"{100 * level:g}% {NAMES[kind]}"


def describe(kind: str, level: float, method: str | None = None) -> dict:
    """The JSON-ready record of an interval: kind, level, label, what it means and how it was computed."""
    return {"kind": kind, "level": float(level), "label": label(kind, level), "meaning": MEANING[kind],
            **({"method": method} if method else {})}


class Interval(tuple):
    """(lower, upper) that also says its ``kind`` and ``level`` (``lo, hi = fit.predict_interval(x)`` still
    unpacks it; ``interval.label`` is ``"95% prediction interval"``)."""

    kind: str
    level: float
    method: str | None

    def __new__(cls, lower, upper, *, kind: str, level: float, method: str | None = None):
        self = super().__new__(cls, (lower, upper))
        self.kind, self.level, self.method = kind, float(level), method
        return self

    @property
    def lower(self):
        return self[0]

    @property
    def upper(self):
        return self[1]

    @property
    def label(self) -> str:
        return label(self.kind, self.level)

    def __repr__(self) -> str:
        return f"Interval({self.label}: lower={self[0]!r}, upper={self[1]!r})"


__all__ = ["DEFAULT", "KINDS", "Interval", "NAMES", "describe", "label"]
