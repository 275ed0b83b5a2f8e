"""Learning-rate schedules as pure functions of the step: each returns the multiplier of the peak LR.

All share a linear warmup over ``warmup`` steps (from ``1/warmup`` of the peak to the peak), then:

- ``cosine``: half-cosine from 1 down to ``min_ratio`` at the last step (Loshchilov & Hutter 2017);
- ``linear``: straight line from 1 down to ``min_ratio``;
- ``constant``: stays at 1;
- ``wsd``: warmup-stable-decay — 1 until the last ``decay`` steps, then a cooldown to ``min_ratio``
  (Hu et al. 2024, MiniCPM; Hägele et al. 2024): ``linear``, or ``1-sqrt`` (``1 - sqrt(p)`` of the way down at
  progress ``p``, the cooldown Hägele et al. found best); ``min_ratio = 0`` decays to zero.
"""

from __future__ import annotations

import math

__all__ = ["COOLDOWNS", "SCHEDULES", "lr_multiplier", "phase_steps"]


def _progress(step: int, start: int, total: int) -> float:
    """Fraction in [0, 1] of the way from ``start`` to the last step ``total - 1``."""
    span = max(total - 1 - start, 1)
    return min(max((step - start) / span, 0.0), 1.0)


def cosine(step: int, total: int, warmup: int, min_ratio: float) -> float:
    p = _progress(step, warmup, total)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * p))


def linear(step: int, total: int, warmup: int, min_ratio: float) -> float:
    return 1 - (1 - min_ratio) * _progress(step, warmup, total)


def constant(step: int, total: int, warmup: int, min_ratio: float) -> float:
    return 1.0


COOLDOWNS = {"linear": lambda p: p, "1-sqrt": math.sqrt}  # fraction of the way down at cooldown progress p


def wsd(step: int, total: int, warmup: int, min_ratio: float, decay: int, cooldown: str = "linear") -> float:
    start = total - decay
    if decay <= 0 or step < start:
        return 1.0
    return 1 - (1 - min_ratio) * COOLDOWNS[cooldown](_progress(step, start - 1, total))


SCHEDULES = {"cosine": cosine, "linear": linear, "constant": constant, "wsd": wsd}


def lr_multiplier(
    step: int, *, total: int, schedule: str, warmup: int = 0, min_ratio: float = 0.1, decay: int = 0,
    cooldown: str = "linear",
) -> float:
    """Multiplier of the peak LR at 0-based ``step`` of ``total`` steps (``decay``, ``cooldown``: WSD only)."""
    if warmup > 0 and step < warmup:
        return (step + 1) / warmup
    if schedule == "wsd":
        return wsd(step, total, warmup, min_ratio, decay, cooldown)
    return SCHEDULES[schedule](step, total, warmup, min_ratio)


def phase_steps(total: int, warmup_frac: float, decay_frac: float) -> tuple[int, int]:
    """Warmup and (wsd) decay lengths in steps from fractions of ``total``, rounded as the trainer runs them."""
    return int(round(warmup_frac * total)), int(round(decay_frac * total))
