"""Model shapes for a target parameter count: ``shape_for_params(target, ...) -> (width, depth)``.

The rule keeps a fixed aspect ratio ``width / depth`` (Kaplan et al. 2020, §3.1: loss depends only weakly on
the shape at fixed N over a wide range of aspect ratios, so one rule for all sizes is enough): the depth
is chosen from the cube-root law ``N_nonembed ~ 12 depth width^2 = 12 aspect^2 depth^3``, then the width
(a multiple of ``width_multiple`` and of the head count) whose exact parameter count, embeddings included,
is closest to the target. Counts come from ``scalefit.proxy.counting`` (no torch).
"""

from __future__ import annotations

import math
from dataclasses import replace

from scalefit.errors import ConfigError
from scalefit.proxy.config import ModelConfig
from scalefit.proxy.counting import count_params

__all__ = ["DEFAULT_ASPECT", "shape_for_params"]

DEFAULT_ASPECT = 64.0  # width / depth of the shape rule (GPT-2 small: 768 / 12)


def _count(base: ModelConfig, width: int, depth: int) -> int:
    return count_params(replace(base, width=width, depth=depth))["n_params"]


def shape_for_params(
    target: float, base: ModelConfig, *, aspect: float = DEFAULT_ASPECT, width_multiple: int = 8
) -> tuple[int, int]:
    """``(width, depth)`` whose total parameter count (``count_params``) is closest to ``target``.

    ``base`` supplies everything but the shape (vocab, context, MLP, heads, tying); the width is a multiple
    of ``lcm(width_multiple, base.n_heads)``. Raises ConfigError when even the smallest shape (one block of
    the smallest width) is more than twice the target.
    """
    if not (target > 0 and math.isfinite(target)):
        raise ConfigError(f"target parameter count must be a positive number, got {target}")
    step = math.lcm(width_multiple, base.n_heads)
    smallest = _count(base, step, 1)
    if smallest > 2 * target:
        raise ConfigError(
            f"params={target:.4g} is too small for this model family: the smallest shape (width {step}, depth 1) "
            f"already has {smallest:,} parameters (embeddings of vocab {base.vocab_size} and context "
            f"{base.seq_len} included); use a larger target or a smaller vocab/seq_len/n_heads"
        )
    # per-block non-embedding count ~ 12 w^2 (GELU, ratio 4); solve 12 aspect^2 d^3 = N for the depth
    per_block = _count(base, step * 4, 2) - _count(base, step * 4, 1)
    coef = per_block / (step * 4) ** 2  # ~12 for GELU x4
    depth_guess = (target / (coef * aspect**2)) ** (1 / 3)
    options = []
    for depth in sorted({max(1, math.floor(depth_guess)), max(1, math.ceil(depth_guess))}):
        width = _width_for(target, base, depth, step)
        size_err = abs(math.log(_count(base, width, depth) / target))
        options.append((size_err, abs(math.log(width / depth / aspect)), width, depth))
    close = [o for o in options if o[0] <= math.log(1.1)]  # within 10% of the target: the aspect decides
    size_err, _, width, depth = min(close, key=lambda o: o[1]) if close else min(options)
    return width, depth


def _width_for(target: float, base: ModelConfig, depth: int, step: int) -> int:
    """The multiple of ``step`` whose count at ``depth`` is closest to ``target`` (in log ratio)."""
    lo, hi = 1, 1
    while _count(base, hi * step, depth) < target:
        lo, hi = hi, hi * 2
    while hi - lo > 1:  # count is increasing in width: bisect for the last multiple below the target
        mid = (lo + hi) // 2
        if _count(base, mid * step, depth) < target:
            lo = mid
        else:
            hi = mid
    candidates = [k * step for k in {lo, hi} if k >= 1]
    return min(candidates, key=lambda w: abs(math.log(_count(base, w, depth) / target)))
