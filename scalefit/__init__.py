"""scalefit: fit scaling laws to run logs and predict loss, downstream error and hyperparameters at scale.

Importing scalefit never imports torch or matplotlib.
"""

from __future__ import annotations

__version__ = "0.1.0"

from scalefit.errors import (  # noqa: E402
    BoundWarning,
    ConvergenceWarning,
    ExtrapolationWarning,
    FitError,
    LawError,
    RunDataError,
    ScalefitError,
)
from scalefit.laws import Law, get_law, list_laws  # noqa: E402
from scalefit.runs import RunTable, read_runs  # noqa: E402

__all__ = [
    "__version__",
    "BoundWarning",
    "ConvergenceWarning",
    "ExtrapolationWarning",
    "FitError",
    "Law",
    "LawError",
    "RunDataError",
    "RunTable",
    "ScalefitError",
    "get_law",
    "list_laws",
    "read_runs",
]
