"""LadderResult: the two fits of the model ladder (task loss L(N, D), then accuracy Acc(L), per task) as data.

Schema ``scalefit.ladder/1``: ``loss_fit`` and ``acc_fit`` are ordinary fit files (grouped by task), ``points``
the ladder's own points per task (what the figure draws), ``options`` how it was fitted. ``predict`` chains the
two fits per task with intervals from both bootstraps; ``plot`` draws the two steps per task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalefit._frozen import freeze, thaw
from scalefit._schema import (
    expect_fields,
    expect_filter,
    expect_mapping,
    expect_number_list,
    expect_schema,
    expect_str,
    fields_of,
    list_of,
    mapping_of,
    parse_json,
)
from scalefit.errors import FitFileError
from scalefit.fitting.result import FitResult, fit_from_dict
from scalefit.results import ResultFile

SCHEMA = "scalefit.ladder/1"
_POINT_KEYS = ("N", "D", "L", "ckpt_L", "ckpt_Acc")


@dataclass(frozen=True)
class LadderResult(ResultFile):
    """The ladder's step-1 (task loss) and step-2 (accuracy) fits, grouped by task; see the module docstring."""

    FILE_KIND = "ladder file"
    FILE_HINT = "create one with `scalefit fit ladder RUNS.csv --out {path}`"

    loss_fit: FitResult  # chinchilla L(N, D) per task, on each run's last checkpoint
    acc_fit: FitResult  # downstream-acc-sigmoid Acc(L) per task, on the kept checkpoints (+ the anchor)
    options: dict  # loss_cols, acc_cols, task, run, skip_first, anchor, chance, bootstrap, seed, mapping, target
    data: dict  # source, n_rows, hash, tasks
    points: dict  # task -> {N, D, L: runs' last checkpoints; ckpt_L, ckpt_Acc: the checkpoints of step 2}
    notes: list = field(default_factory=list)  # warnings the two fits gave
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)  # scalefit version

    def __post_init__(self) -> None:
        for name in ("options", "data", "points", "notes"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    @property
    def tasks(self) -> list[str]:
        return list(self.data["tasks"])

    def predict(self, points: Mapping[str, Any] | pd.DataFrame, *, level: float = 0.95, seed: int = 0,
                widen: Any = None) -> pd.DataFrame:
        """Per task at ``points`` (N and D): the task loss ``L_pred`` and accuracy ``acc_pred``, each with the
        ``_lower``/``_upper`` interval of both steps' bootstraps; one row per (point, task)."""
        from scalefit.planning.chain import chain_predict_groups

        return chain_predict_groups(self.loss_fit, self.acc_fit, points, level=level, seed=seed, widen=widen).frame

    def plot(self, runs: Any = None, *, ax: Any = None, **options: Any) -> Any:
        """The two steps per task (:func:`scalefit.plotting.ladder.plot_ladder`); returns the Figure."""
        from scalefit.plotting.ladder import plot_ladder

        return plot_ladder(self, axes=ax, group=options.get("group"), level=options.get("level", 0.95))

    def report(self, *, level: float = 0.95) -> str:
        o = self.options
        lines = [f"model ladder on {self.data['source']} ({self.data['n_rows']} rows), tasks: "
                 f"{', '.join(self.tasks)}",
                 f"step 1: task loss L(N, D) = E + A/N^alpha + B/D^beta on each run's last checkpoint; "
                 f"step 2: Acc(L) sigmoid on all checkpoints after skipping the first {100 * o['skip_first']:g}%"
                 + (", anchored at (L=0, Acc=1)" if o["anchor"] else "")
                 + (f", chance {o['chance']:g}" if o.get("chance") is not None else "")]
        for task in self.tasks:
            one, two = self.loss_fit.group(task), self.acc_fit.group(task)
            ci1, ci2 = one.intervals(level=level), two.intervals(level=level)
            lines.append(f"\n== task = {task} ==")
            for fit, ci, what in ((one, ci1, "step 1"), (two, ci2, "step 2")):
                parts = [f"{k} = {v:.4g}" + (f" [{ci[k][0]:.4g}, {ci[k][1]:.4g}]" if k in ci else "")
                         for k, v in fit.params.items()]
                lines.append(f"{what} ({fit.law}, {fit.stats['n']} rows, RMSE {fit.stats['rmse']:.3g}): "
                             + ", ".join(parts))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {"schema": SCHEMA, "loss_fit": self.loss_fit.to_dict(), "acc_fit": self.acc_fit.to_dict(),
                "options": thaw(self.options), "data": thaw(self.data), "points": thaw(self.points),
                "notes": list(self.notes), "version": self.version}

    @classmethod
    def from_dict(cls, d: Any) -> LadderResult:
        """A LadderResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        expect_schema(d, (SCHEMA,), "a scalefit ladder")
        f = expect_fields({k: v for k, v in d.items() if k != "schema"}, "",
                          {"loss_fit": expect_mapping, "acc_fit": expect_mapping,
                           "options": fields_of({}, {"where": expect_filter}),
                           "data": expect_mapping, "points": expect_mapping},
                          {"notes": list_of(expect_str), "version": expect_str}, closed=True)
        loss_fit, acc_fit = fit_from_dict(f["loss_fit"], "loss_fit"), fit_from_dict(f["acc_fit"], "acc_fit")
        data = expect_fields(f["data"], "data", {"source": expect_str, "tasks": list_of(expect_str)})
        for task in data["tasks"]:
            for fit, name in ((loss_fit, "loss_fit"), (acc_fit, "acc_fit")):
                if task not in (fit.groups or {}):
                    raise FitFileError(f"{name}: no group for task {task!r}; the ladder's tasks are {data['tasks']}")
        points = {str(t): expect_fields(p, f"points.{t}", {k: expect_number_list for k in _POINT_KEYS})
                  for t, p in mapping_of(expect_mapping)(f["points"], "points").items()}
        return cls(loss_fit=loss_fit, acc_fit=acc_fit, options=f["options"], data=data, points=points,
                   notes=f.get("notes", []), **({"version": f["version"]} if "version" in f else {}))

    @classmethod
    def from_json(cls, text: str) -> LadderResult:
        return cls.from_dict(parse_json(text, "ladder JSON"))


    def target_prediction(self, level: float = 0.95) -> pd.DataFrame | None:
        """The prediction at the stored target model (``options.target``), None when there is none."""
        target = self.options.get("target")
        if not target:
            return None
        return self.predict({k: np.atleast_1d(float(v)) for k, v in target.items()}, level=level)


__all__ = ["SCHEMA", "LadderResult"]
