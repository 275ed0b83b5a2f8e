"""Scaling-law families: pure numpy formulas with parameter specs, and the registry.

``get_law(name, **options)`` builds a law; ``list_laws()`` lists the registered names.
Each module below registers its laws on import.
"""

from __future__ import annotations

from scalefit.laws.base import Derived, Law, Param
from scalefit.laws.registry import get_law, list_laws, register

# Law modules register themselves on import (keep one line per module).
from scalefit.laws import chinchilla  # noqa: E402,F401  isort: skip
from scalefit.laws import overtrain  # noqa: E402,F401  isort: skip
from scalefit.laws import downstream  # noqa: E402,F401  isort: skip
from scalefit.laws import downstream_acc  # noqa: E402,F401  isort: skip
from scalefit.laws import kaplan  # noqa: E402,F401  isort: skip
from scalefit.laws import power  # noqa: E402,F401  isort: skip
from scalefit.laws import nmt  # noqa: E402,F401  isort: skip
from scalefit.laws import expr  # noqa: E402,F401  isort: skip
from scalefit.laws import hparams  # noqa: E402,F401  isort: skip
from scalefit.laws import lr_annealing  # noqa: E402,F401  isort: skip
from scalefit.laws import data_constrained  # noqa: E402,F401  isort: skip
from scalefit.laws import moe  # noqa: E402,F401  isort: skip
from scalefit.laws import vocab  # noqa: E402,F401  isort: skip
from scalefit.laws import parscale  # noqa: E402,F401  isort: skip
from scalefit.laws import bnsl  # noqa: E402,F401  isort: skip
from scalefit.laws import learning_curves  # noqa: E402,F401  isort: skip
from scalefit.laws import rectified  # noqa: E402,F401  isort: skip
from scalefit.laws import mixture  # noqa: E402,F401  isort: skip
from scalefit.laws import downstream_compute  # noqa: E402,F401  isort: skip

__all__ = ["Derived", "Law", "Param", "get_law", "list_laws", "register"]
