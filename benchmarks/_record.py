"""Where a benchmark ran, for its committed results: the commit and the machine's load (shared by the benchmarks
that save a results file; timings and rates from a loaded 2-core machine are read with its load beside them)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def commit() -> str:
    """The checked-out commit, with "+dirty" when scalefit/ differs from it ("unknown" outside git)."""
    here = Path(__file__).parent
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=here).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", "scalefit"],
                               capture_output=True, text=True, cwd=here.parent).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


def machine(**extra) -> dict:
    """{"commit", "cores", "load_before", **extra}; call :func:`finish` on it when the benchmark ends."""
    return {"commit": commit(), "cores": os.cpu_count(), **extra, "load_before": load()}


def finish(record: dict) -> dict:
    record["load_after"] = load()
    return record


def load() -> list[float]:
    return [round(v, 2) for v in os.getloadavg()]
