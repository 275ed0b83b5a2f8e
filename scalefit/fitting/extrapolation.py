"""Saying how far a prediction or plan goes beyond the data: one ExtrapolationWarning, in decades of each scale
input, pointing at the user's line.

Extrapolation is the point of a scaling law, so it is allowed, never refused; but every prediction, plan and
recommendation beyond the fitted range says how far beyond it goes (``N 2.1 decades beyond the fitted
[1e7, 3e9]``) and, where the fit is calibrated, the prediction interval there.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Mapping

import numpy as np

from scalefit.errors import ExtrapolationWarning

_PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # .../scalefit


def user_stacklevel() -> int:
    """The ``stacklevel`` that makes a warning raised by the caller of this function point at the first frame
    outside the scalefit package (the user's line), however deep in scalefit the warning is raised."""
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.abspath(frame.f_code.co_filename).startswith(_PACKAGE + os.sep):
        frame, level = frame.f_back, level + 1
    return level


def beyond(x: Mapping[str, object], ranges: Mapping[str, object]) -> list[str]:
    """One phrase per input of ``x`` that leaves its fitted range: ``N 2.1 decades beyond the fitted
    [1e7, 3e9]`` (a positive input), ``lr 0.3 beyond the fitted [0.1, 0.2]`` otherwise."""
    from scalefit.fitting.calibration import decades

    out = []
    for s, v in x.items():
        if s not in ranges:
            continue
        v = np.asarray(v, dtype=float).reshape(-1)
        v = v[np.isfinite(v)]
        lo, hi = (float(b) for b in ranges[s])
        if not v.size or (np.all(v >= lo * (1 - 1e-9)) and np.all(v <= hi * (1 + 1e-9))):
            continue
        far = decades({s: v}, {s: (lo, hi)}).get(s)
        shown = f"{np.min(v):.4g}" if np.min(v) < lo else f"{np.max(v):.4g}"
        if far is not None:
            out.append(f"{s} = {shown} is {far:.2g} decades beyond the fitted {s} range [{lo:.4g}, {hi:.4g}]")
        else:
            out.append(f"{s} = {shown} is outside the fitted {s} range [{lo:.4g}, {hi:.4g}]")
    return out


def warn_beyond(x: Mapping[str, object], ranges: Mapping[str, object], what: str = "",
                interval: str | None = None) -> bool:
    """Warn (ExtrapolationWarning, at the user's line) when ``x`` leaves ``ranges``; ``what`` names the
    prediction (``plan``), ``interval`` adds the calibrated interval there. Returns whether it warned."""
    phrases = beyond(x, ranges)
    if not phrases:
        return False
    text = f"{what + ': ' if what else ''}extrapolating beyond the data: {'; '.join(phrases)}"
    warnings.warn(text + (f"; {interval}" if interval else ""), ExtrapolationWarning, stacklevel=user_stacklevel())
    return True


__all__ = ["beyond", "user_stacklevel", "warn_beyond"]
