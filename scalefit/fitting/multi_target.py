"""Multi-target fits: one law fitted to each of several target columns, saved in one result.

``scalefit fit chinchilla RUNS --target loss_c4,loss_wiki`` or ``--target-glob 'loss_*'`` (library:
``fit_law(law, runs, target=["loss_c4", "loss_wiki"])``) fits the same form to every target column, on the
same rows and with the same options, and returns a :class:`~scalefit.fitting.fit_set.FitSet` keyed by target
column (``targets`` lists them in order, ``by`` is ``"target"``): ``fits["loss_c4"]`` is one target's
fit, ``scalefit predict`` predicts every target together (one ``<column>_pred`` column each), and reports
and plots show one part per target, as for a grouped fit. The targets' searches and calibrations run together
(one engine pass, like a grouped fit's groups: ``scalefit.fitting.api.fit_parts``).
"""

from __future__ import annotations

from collections.abc import Sequence

from scalefit.errors import RunDataError
from scalefit.runs import RunTable
from scalefit.runs.derive import matching_columns


def target_columns(table: RunTable, targets: str | Sequence[str] | None = None, glob: str | None = None) -> list[str]:
    """The target columns asked for: a list, a comma-separated string (``"a,b"``; a column whose own name has a
    comma is taken whole), or the columns matching ``glob`` (comma-separated globs) — each an existing column,
    named once."""
    if glob is not None and targets is not None:
        raise RunDataError("give the targets either as --target A,B,... or as --target-glob PATTERN, not both")
    if glob is not None:
        return matching_columns(table, glob, "--target-glob")
    cols = table.columns
    if isinstance(targets, str):
        targets = [targets] if targets in cols else [t.strip() for t in targets.split(",")]
    names = list(targets or [])
    if not names or any(not t for t in names):
        raise RunDataError(f"empty target name in {targets!r}; say e.g. --target loss_a,loss_b")
    missing = [t for t in names if t not in cols]
    if missing:
        raise RunDataError(f"{table.source}: no target column {missing}; columns are {cols}")
    repeated = sorted({t for t in names if names.count(t) > 1})
    if repeated:
        raise RunDataError(f"target {repeated} named more than once")
    return names


__all__ = ["target_columns"]
