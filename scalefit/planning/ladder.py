"""The model ladder: predict a large model's task accuracy from small ones in two chained steps.

Bhagia et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders" (arXiv:2412.04403):

1. **Task loss.** Per task, L(N, D) = E + A/N^alpha + B/D^beta (``chinchilla``) fitted to each ladder run's
   final checkpoint, reduced by ``reduce`` (default ``"last"``; the paper's setting is ``"mean-last=5"``, the
   mean of the last 5 checkpoints, which damps checkpoint noise, placed at their mean tokens: at the last
   checkpoint's, the mean would sit above the curve by the loss still falling over the window; the run key
   resolved as in :mod:`scalefit.runs.reduce`).
2. **Accuracy.** Per task, Acc(L) = floor + (ceiling - floor)/(1 + exp(k (L - L0))) (``downstream-acc-sigmoid``,
   the paper's a/(1 + exp(-k(L - L0))) + b with bounds that keep it in [0, 1]) fitted to *all* checkpoints of
   every run after skipping each run's earliest ``skip_first`` fraction, with the ideal point (L = 0, Acc = 1)
   as an anchor, as the paper does; ``smooth=K`` first replaces each checkpoint's accuracy by the trailing
   moving average of K checkpoints of its run (the paper's setting: ``smooth=5``).

Paper settings: ``reduce="mean-last=5", smooth=5`` (``scalefit fit ladder ... --reduce mean-last=5 --smooth 5``).

Beyond the paper (:mod:`scalefit.planning.ladder_methods`): the **direct** method, accuracy as a power law of
compute with a chance floor (``downstream-acc-compute``), is fitted beside the two steps; a backtest holding out
the largest ladder size chooses per task the method that predicted it better (``choose=True``); a
predictability **triage** per task compares checkpoint noise with the signal across sizes and flags the tasks
whose expected error exceeds ``threshold`` or whose accuracy barely leaves the checkpoint noise across sizes
(SNR below ``ladder_methods.MIN_SNR``).

``predict`` chains the two steps per task (:func:`scalefit.planning.chain.chain_predict_groups`; the bootstrap
resamples of both steps, runs resampled, give the intervals), or uses the direct fit for a task that chose it.

The log is either *wide*, one row per checkpoint
and one column per task loss and per task accuracy (``loss_cols="bpb_*", acc_cols="acc_*"``: tasks are the
names left after the globs' fixed parts, ``bpb_arc`` with ``acc_arc``), or *long*, with a ``task`` column and one
loss and one accuracy column.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.api import RunsLike
from scalefit.fitting.rows import filtered_rows
from scalefit.planning import ladder_methods as methods
from scalefit.planning.ladder_result import LadderResult
from scalefit.runs import RunTable, column_for, run_column
from scalefit.runs.derive import matching_columns

# columns of the long table; predictions are named L_pred (step 1) and acc_pred (step 2, after the fitted column)
RUN, TASK, TASK_LOSS, TASK_ACC = "ladder_run", "task", "task_loss", "acc"


def _glob_tasks(table: RunTable, pattern: str, option: str) -> dict[str, str]:
    """task name -> column for the columns matching ``pattern`` (the name is what the ``*`` matched)."""
    if "," in pattern:  # the task names come from one glob's *
        raise RunDataError(f"{option} {pattern!r}: give one glob whose * stands for the task name, e.g. 'acc_*'")
    cols = matching_columns(table, pattern, option)
    head, _, tail = pattern.partition("*")
    out = {}
    for c in cols:
        name = c[len(head): len(c) - len(tail.replace("*", "")) or None] if "*" in pattern else c
        out[name or c] = c
    return out


def _wide_tasks(table: RunTable, loss_cols: str, acc_cols: str) -> dict[str, tuple[str, str]]:
    losses = _glob_tasks(table, loss_cols, "--loss-cols")
    accs = _glob_tasks(table, acc_cols, "--acc-cols")
    for mine, theirs, a, b in ((losses, accs, "--loss-cols", "--acc-cols"), (accs, losses, "--acc-cols",
                                                                             "--loss-cols")):
        missing = [t for t in mine if t not in theirs]
        if missing:
            raise RunDataError(f"{table.source}: task {missing[0]!r} has a {a} column ({mine[missing[0]]}) but no "
                               f"{b} column; {b} gives tasks {sorted(theirs)}")
    return {t: (losses[t], accs[t]) for t in sorted(losses)}


def long_table(table: RunTable, *, loss_cols: str, acc_cols: str, task: str | None = None,
               run: str | None = None) -> RunTable:
    """One row per (checkpoint, task) with columns ``task``, ``task_loss``, ``task_acc`` and ``ladder_run`` (the
    run key joined with the task), the other columns kept; from a wide or a long (``task``) log."""
    key = run_column(table, run)
    if key is None:
        raise RunDataError(f"{table.source}: the ladder needs a run key to find each run's last checkpoint: a "
                           f"run_id, run or run_name column, or --run COLUMN; columns are {table.columns}")
    frame = table.frame
    if task is not None:
        for col, option in ((task, "--task-col"), (loss_cols, "--loss-cols"), (acc_cols, "--acc-cols")):
            if col not in frame.columns:
                raise RunDataError(f"{table.source}: {option} {col!r} is not a column; columns are {table.columns}")
        parts = [frame.assign(**{TASK: frame[task].astype(str), TASK_LOSS: frame[loss_cols],
                                 TASK_ACC: frame[acc_cols]})]
    else:
        parts = [frame.assign(**{TASK: name, TASK_LOSS: frame[lc], TASK_ACC: frame[ac]})
                 for name, (lc, ac) in _wide_tasks(table, loss_cols, acc_cols).items()]
    long = pd.concat(parts, ignore_index=True)
    long[RUN] = long[key].astype(str) + "|" + long[TASK]
    return RunTable.from_frame(long.dropna(subset=[TASK_LOSS, TASK_ACC]).reset_index(drop=True), table.source)


def ladder(
    data: RunsLike,
    *,
    loss_cols: str = "loss_*",
    acc_cols: str = "acc_*",
    task: str | None = None,
    mapping: Mapping[str, str] | None = None,
    where: str | None = None,
    run: str | None = None,
    skip_first: float = 0.1,
    anchor: bool = True,
    chance: float | None = None,
    bootstrap: int = 200,
    seed: int = 0,
    target: Mapping[str, float] | None = None,
    reduce: str | None = None,
    smooth: int | None = None,
    direct: bool = True,
    choose: bool = True,
    threshold: float = methods.THRESHOLD,
    calibrate: bool = True,
) -> LadderResult:
    """Fit the ladder (see the module docstring); ``mapping`` says which columns feed N and D, ``target``
    (``{"N": .., "D": ..}``) is the model the plot marks. ``reduce``: step 1's (and the direct method's) per-run
    checkpoint reducer (default "last"; the paper: "mean-last=5"); ``smooth``: step 2's moving average (the paper:
    5); ``direct``: fit the direct method too; ``choose``: per task, keep the method that predicted the largest
    ladder size better; ``threshold``: the triage's expected-error threshold; ``calibrate``: calibrate the fits'
    prediction intervals (False: point predictions and bootstrap intervals only, faster). Returns a
    :class:`LadderResult`."""
    if not (np.isfinite(threshold) and threshold > 0):
        raise RunDataError(f"threshold={threshold}: need an accuracy error > 0, e.g. 0.05")
    table, _ = filtered_rows(data, where, mapping)
    long = long_table(table, loss_cols=loss_cols, acc_cols=acc_cols, task=task, run=run)
    maps = {s: c for s, c in dict(mapping or {}).items() if s in ("N", "D")}
    for s in ("N", "D"):
        if column_for(long, s, maps) is None:
            raise RunDataError(f"{table.source}: no column for {s} (the ladder's L(N, D)); name it with "
                               f"--map {s}=COLUMN")
    o = {"skip_first": skip_first, "anchor": anchor, "chance": chance, "reduce": reduce, "smooth": smooth}
    loss_fit, acc_fit, notes = methods.two_step(long, maps, o, bootstrap=bootstrap, seed=seed, calibrate=calibrate)
    direct_fit = None
    if direct:
        direct_fit, more = methods.direct(long, maps, o, bootstrap=bootstrap, seed=seed, calibrate=calibrate)
        notes += more
    choice, choice_notes = methods.backtest_choice(long, maps, o, seed) if direct and choose else ({}, [])
    triage = methods.triage(long, o, choice, threshold, maps)
    points = _points(long, maps, skip_first)
    options = {"loss_cols": loss_cols, "acc_cols": acc_cols, "task": task, "run": run_column(table, run),
               "skip_first": skip_first, "anchor": anchor, "chance": chance, "bootstrap": bootstrap, "seed": seed,
               "mapping": maps, "where": where, "target": dict(target) if target else None, "reduce": reduce,
               "smooth": smooth, "direct": direct, "choose": choose, "threshold": threshold}
    data_summary = {"source": table.source, "n_rows": len(table), "hash": table.digest(),
                    "tasks": sorted(set(long.frame[TASK]))}
    fits = {"step 1": loss_fit, "step 2": acc_fit, **({"direct": direct_fit} if direct_fit is not None else {})}
    return LadderResult(loss_fit=loss_fit, acc_fit=acc_fit, options=options, data=data_summary, points=points,
                        notes=[*_task_notes(fits, points),
                               *(f"{step} (all tasks): {m}" for step, m in notes if "sits on its" not in m),
                               *choice_notes],
                        direct_fit=direct_fit, choice=choice, triage=triage)


def _task_notes(fits: Mapping[str, Any], points: Mapping[str, Mapping]) -> list[str]:
    """Per task and step, the degenerate parameters of its fit (vanished terms, a floor collapsed to ~0,
    parameters on bounds), naming the task."""
    from scalefit.fitting.degeneracy import findings

    out = []
    for name, pts in points.items():
        n, d = np.asarray(pts["N"], dtype=float), np.asarray(pts["D"], dtype=float)
        xs = {"step 1": {"N": n, "D": d}, "step 2": {"L": np.asarray(pts["ckpt_L"], dtype=float)},
              "direct": {"C": 6 * n * d}}
        for step, fit in fits.items():
            one = fit[name]
            law = one.law_spec
            found = findings(_degeneracy(law, one.params, xs[step]))
            tiny = [p.name for p in law.params if p.log and 0 <= one.params[p.name] < 1e-12]  # 0.0 exactly too
            if tiny:
                found.insert(0, "collapsed to ~0: " + ", ".join(f"{p} = {one.params[p]:.3g}" for p in tiny))
            if found:
                out.append(f"task {name}, {step} ({law.name}): " + "; ".join(found))
    return out


def _degeneracy(law, params, x) -> dict:
    from scalefit.fitting.degeneracy import degeneracy

    try:
        return degeneracy(law, params, x)
    except (ValueError, ArithmeticError, KeyError):
        return {}


def _points(long: RunTable, maps: Mapping[str, str], skip_first: float) -> dict:
    """What the plot draws per task: each run's last checkpoint (N, D, L) and the kept checkpoints (L, Acc)."""
    from scalefit.runs import reduce_runs, resolve

    out = {}
    for name, rows in long.frame.groupby(TASK, sort=True).groups.items():
        sub = long.subset(rows)
        last = reduce_runs(sub, run=RUN, reduce="last", columns=[TASK_LOSS])
        x = resolve(last, ["N", "D"], mapping=maps).values
        kept = reduce_runs(sub, run=RUN, skip_first=skip_first, columns=[TASK_LOSS, TASK_ACC]) if skip_first \
            else sub
        out[str(name)] = {"N": x["N"].tolist(), "D": x["D"].tolist(), "L": last.frame[TASK_LOSS].tolist(),
                          "ckpt_L": kept.frame[TASK_LOSS].astype(float).tolist(),
                          "ckpt_Acc": kept.frame[TASK_ACC].astype(float).tolist()}
    return out
