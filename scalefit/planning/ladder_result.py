"""LadderResult: the two fits of the model ladder (task loss L(N, D), then accuracy Acc(L), per task) as data.

Schema ``scalefit.ladder/2`` (``/1`` files still load): ``loss_fit`` and ``acc_fit`` are ordinary fit files
(grouped by task), ``direct_fit`` the direct method's (accuracy against compute, or None), ``choice`` the
method each task kept by backtest, ``triage`` each task's predictability, ``points`` the ladder's own points per
task (what the figure draws), ``options`` how it was fitted. ``predict`` chains the two fits per task with
intervals from both bootstraps, or predicts with the direct fit for a task that chose it; ``plot`` draws the two
steps per task.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze, thaw
from scalefit.errors import FitError, FitFileError
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.result import fit_from_dict
from scalefit.results import ResultFile

SCHEMA = "scalefit.ladder/2"
SCHEMAS = (SCHEMA, "scalefit.ladder/1")
_POINT_KEYS = ("N", "D", "L", "ckpt_L", "ckpt_Acc")


@dataclass(frozen=True)
class LadderResult(ResultFile):
    """The ladder's step-1 (task loss) and step-2 (accuracy) fits, grouped by task; see the module docstring."""

    FILE_KIND = "ladder file"
    FILE_HINT = "create one with `scalefit fit ladder RUNS.csv --out {path}`"

    loss_fit: FitSet  # chinchilla L(N, D) per task, on each run's last checkpoint
    acc_fit: FitSet  # downstream-acc-sigmoid Acc(L) per task, on the kept checkpoints (+ the anchor)
    options: dict  # loss_cols, acc_cols, task, run, skip_first, anchor, chance, bootstrap, seed, mapping, target
    data: dict  # source, n_rows, hash, tasks
    points: dict  # task -> {N, D, L: runs' last checkpoints; ckpt_L, ckpt_Acc: the checkpoints of step 2}
    notes: list = field(default_factory=list)  # warnings the fits gave, per task where they concern one
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)  # scalefit version
    direct_fit: FitSet | None = None  # downstream-acc-compute Acc(C) per task (the direct method), or None
    choice: dict = field(default_factory=dict)  # task -> {method, two-step, direct (backtest |error|), held_out}
    triage: dict = field(default_factory=dict)  # task -> {noise, signal, snr, backtest_error, expected_error, flagged}

    def __post_init__(self) -> None:
        for name in ("options", "data", "points", "notes", "choice", "triage"):
            object.__setattr__(self, name, freeze(getattr(self, name)))

    @property
    def tasks(self) -> list[str]:
        return list(self.data["tasks"])

    def method(self, task: str) -> str:
        """The method task ``task`` predicts with: "direct" when the backtest chose it, else "two-step"."""
        return str(self.choice.get(task, {}).get("method", "two-step")) if self.direct_fit is not None \
            else "two-step"

    def predict(self, points: Mapping[str, Any] | pd.DataFrame, *, level: float = 0.95, seed: int = 0,
                widen: Any = None) -> pd.DataFrame:
        """Per task at ``points`` (N and D): the task loss ``L_pred`` and accuracy ``acc_pred``, each with the
        ``_lower``/``_upper`` interval of both steps' bootstraps, and the ``method`` the accuracy comes from (a task
        that chose the direct method: its prediction at C = 6 N D, with its prediction interval; ``acc_direct``
        beside ``acc_two_step`` when a direct fit exists); one row per (point, task)."""
        from scalefit.planning.chain import chain_predict_groups

        frame = chain_predict_groups(self.loss_fit, self.acc_fit, points, level=level, seed=seed, widen=widen).frame
        frame["method"] = [self.method(str(t)) for t in frame["task"]]
        if self.direct_fit is None:
            return frame
        import warnings

        frame["acc_two_step"] = frame["acc_pred"]
        c = 6.0 * frame["N"].to_numpy(dtype=float) * frame["D"].to_numpy(dtype=float)
        frame["acc_direct"] = np.nan
        for task in set(frame["task"].astype(str)):
            rows = (frame["task"].astype(str) == task).to_numpy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                frame.loc[rows, "acc_direct"] = self.direct_fit[task].predict({"C": c[rows]})
                if self.method(task) == "direct":
                    kind = "mean" if widen is None else "prediction"  # the kind the two-step rows got
                    try:
                        lo, hi = self.direct_fit[task].predict_interval({"C": c[rows]}, level=level, interval=kind)
                    except FitError:  # no bootstrap or covariance for a mean interval: none, said as NaN
                        lo = hi = np.full(int(rows.sum()), np.nan)
                    frame.loc[rows, "acc_pred"] = frame.loc[rows, "acc_direct"]
                    frame.loc[rows, "acc_lower"], frame.loc[rows, "acc_upper"] = lo, hi
        return frame

    def report(self, *, level: float = 0.95) -> str:
        o = self.options
        lines = [f"model ladder on {self.data['source']} ({self.data['n_rows']} rows), tasks: "
                 f"{', '.join(self.tasks)}",
                 "step 1: task loss L(N, D) = E + A/N^alpha + B/D^beta on each run's "
                 + (f"checkpoints reduced by {o['reduce']}" if o.get("reduce") else "last checkpoint")
                 + (" (at their mean tokens)" if str(o.get("reduce") or "").startswith("mean-last") else "")
                 + f"; step 2: Acc(L) sigmoid on all checkpoints after skipping the first {100 * o['skip_first']:g}%"
                 + (f", accuracy smoothed over {o['smooth']} checkpoints" if o.get("smooth") else "")
                 + (", anchored at (L=0, Acc=1)" if o["anchor"] else "")
                 + (f", chance {o['chance']:g}" if o.get("chance") is not None else "")]
        for task in self.tasks:
            one, two = self.loss_fit[task], self.acc_fit[task]
            ci1, ci2 = one.intervals(level=level), two.intervals(level=level)
            lines.append(f"\n== task = {task} ==")
            for fit, ci, what in ((one, ci1, "step 1"), (two, ci2, "step 2")):
                parts = [f"{k} = {v:.4g}" + (f" [{ci[k][0]:.4g}, {ci[k][1]:.4g}]" if k in ci else "")
                         for k, v in fit.params.items()]
                lines.append(f"{what} ({fit.law}, {fit.stats['n']} rows, RMSE {fit.stats['rmse']:.3g}): "
                             + ", ".join(parts))
        lines += self._methods_report()
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _methods_report(self) -> list[str]:
        """The method each task uses (with the backtest errors that chose it) and the triage."""
        if not self.triage and not self.choice:
            return []
        from scalefit.planning.ladder_methods import MIN_SNR

        t = self.options.get("threshold", 0.05)
        lines = [f"\nmethods and predictability (backtest: the largest ladder size held out; triage flags an "
                 f"expected error above {t:g} or an SNR below {MIN_SNR:g})",
                 f"{'task':<16} {'method':<9} {'|err| 2-step':>12} {'|err| direct':>12} {'ckpt noise':>10} "
                 f"{'signal':>8} {'SNR':>7} {'expected':>9}  flag"]
        for task in self.tasks:
            c, g = self.choice.get(task, {}), self.triage.get(task, {})

            def f(v, spec=".4f"):
                return "n/a" if v is None or not np.isfinite(v) else format(v, spec)

            lines.append(f"{task:<16} {self.method(task):<9} {f(c.get('two-step')):>12} {f(c.get('direct')):>12} "
                         f"{f(g.get('noise')):>10} {f(g.get('signal')):>8} {f(g.get('snr'), '.1f'):>7} "
                         f"{f(g.get('expected_error')):>9}  {'UNPREDICTABLE' if g.get('flagged') else ''}")
        return lines

    def to_dict(self) -> dict:
        from scalefit.fitting.selection_result import nan_to_none

        return {"schema": SCHEMA, "loss_fit": self.loss_fit.to_dict(), "acc_fit": self.acc_fit.to_dict(),
                "options": thaw(self.options), "data": thaw(self.data), "points": thaw(self.points),
                "notes": list(self.notes), "version": self.version,
                "direct_fit": None if self.direct_fit is None else self.direct_fit.to_dict(),
                "choice": nan_to_none(thaw(self.choice)), "triage": nan_to_none(thaw(self.triage))}

    @classmethod
    def from_dict(cls, d: Any) -> LadderResult:
        """A LadderResult from :meth:`to_dict`'s output, every field checked (FitFileError naming the field)."""
        f = S.expect_result(d, SCHEMAS, "a scalefit ladder",
                            {"loss_fit": S.expect_mapping, "acc_fit": S.expect_mapping,
                             "options": S.fields_of({}, {"where": S.expect_filter}),
                             "data": S.expect_mapping, "points": S.expect_mapping},
                            {"notes": S.list_of(S.expect_str), "version": S.expect_str, "choice": S.expect_mapping,
                             "direct_fit": S.optional(S.expect_mapping), "triage": S.expect_mapping})
        loss_fit, acc_fit = fit_from_dict(f["loss_fit"], "loss_fit"), fit_from_dict(f["acc_fit"], "acc_fit")
        data = S.expect_fields(f["data"], "data", {"source": S.expect_str, "tasks": S.list_of(S.expect_str)})
        for task in data["tasks"]:
            for fit, name in ((loss_fit, "loss_fit"), (acc_fit, "acc_fit")):
                if not isinstance(fit, FitSet) or task not in fit:
                    raise FitFileError(f"{name}: no group for task {task!r}; the ladder's tasks are {data['tasks']}")
        points = {str(t): S.expect_fields(p, f"points.{t}", {k: S.expect_number_list for k in _POINT_KEYS})
                  for t, p in S.mapping_of(S.expect_mapping)(f["points"], "points").items()}
        direct = None if f.get("direct_fit") is None else fit_from_dict(f["direct_fit"], "direct_fit")
        return cls(loss_fit=loss_fit, acc_fit=acc_fit, options=f["options"], data=data, points=points,
                   notes=f.get("notes", []), **({"version": f["version"]} if "version" in f else {}),
                   direct_fit=direct, choice=_nan_back(f.get("choice", {})), triage=_nan_back(f.get("triage", {})))


    def target_prediction(self, level: float = 0.95) -> pd.DataFrame | None:
        """The prediction at the stored target model (``options.target``), None when there is none."""
        target = self.options.get("target")
        if not target:
            return None
        return self.predict({k: np.atleast_1d(float(v)) for k, v in target.items()}, level=level)


def _nan_back(d: Mapping) -> dict:
    """Per task, the missing (null) numbers of a stored choice or triage back as NaN."""
    return {t: {k: float("nan") if v is None else v for k, v in dict(e).items()} for t, e in dict(d).items()}


__all__ = ["SCHEMA", "SCHEMAS", "LadderResult"]
