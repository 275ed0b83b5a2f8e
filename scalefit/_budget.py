"""The work budget: option values that size the work (resamples, points, schedule steps) are checked before it.

A small input must not make scalefit build arrays that exhaust memory or loop for minutes (``simulate --points
1e10``, ``predict curve.json --steps 1e9``): each such value is checked by :func:`check_work` against
:data:`WORK_BYTES` of memory and :data:`WORK_STEPS` steps of one-at-a-time (Python-level) work, or against a
count limit of its own (``--bootstrap``), and refused in one line that says how to get what was meant.
"""

from __future__ import annotations

from typing import Any

WORK_BYTES = 2**30  # memory one call may build from a user's option value (1 GiB)
WORK_STEPS = 20_000_000  # one-at-a-time steps (a Python loop) one call may take: about 20 s


def _bytes(n: float) -> str:
    for unit, size in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n / 2**10:.3g} KiB"


def _show(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)


def check_work(option: str, value: Any, error: type[Exception], fix: str, *, nbytes: float = 0.0,
               steps: float = 0.0, most: int | None = None, unit: str = "", why: str = "") -> None:
    """Raise ``error`` (one line: the option, what it needs, ``fix``) before any work when ``option=value`` needs
    more than ``nbytes`` <= :data:`WORK_BYTES` of memory, ``steps`` <= :data:`WORK_STEPS` of one-at-a-time work,
    or (with ``most``) a count ``value`` above ``most`` ``unit`` (``why`` says why that limit)."""
    problems = []
    if most is not None and value > most:
        problems.append(f"at most {most:,} {unit} are allowed" + (f" ({why})" if why else ""))
    if nbytes > WORK_BYTES:
        problems.append(f"it needs about {_bytes(nbytes)} of memory, more than the {_bytes(WORK_BYTES)} one call "
                        "may use")
    if steps > WORK_STEPS:
        problems.append(f"it needs {steps:,.0f} steps one at a time, more than the {WORK_STEPS:,} (about 20 s) one "
                        "call may take")
    if problems:
        raise error(f"{option} {_show(value)}: {'; '.join(problems)}: {fix}")
