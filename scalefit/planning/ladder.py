"""The model ladder: predict a large model's task accuracy from small ones in two chained steps.

Bhagia et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders" (arXiv:2412.04403):

1. **Task loss.** Per task, L(N, D) = E + A/N^alpha + B/D^beta (``chinchilla``) fitted to each ladder run's
   final checkpoint (``reduce="last"``; the run key resolved as in :mod:`scalefit.runs.reduce`).
2. **Accuracy.** Per task, Acc(L) = floor + (ceiling - floor)/(1 + exp(k (L - L0))) (``downstream-acc-sigmoid``,
   the paper's a/(1 + exp(-k(L - L0))) + b with bounds that keep it in [0, 1]) fitted to *all* checkpoints of
   every run after skipping each run's earliest ``skip_first`` fraction, with the ideal point (L = 0, Acc = 1)
   as an anchor, as the paper does.

``predict`` chains the two per task (:func:`scalefit.planning.chain.chain_predict_groups`): the bootstrap
resamples of both steps (runs resampled) give the intervals. The log is either *wide*, one row per checkpoint
and one column per task loss and per task accuracy (``loss_cols="bpb_*", acc_cols="acc_*"``: tasks are the
names left after the globs' fixed parts, ``bpb_arc`` with ``acc_arc``), or *long*, with a ``task`` column and one
loss and one accuracy column.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

import pandas as pd

from scalefit.errors import RunDataError
from scalefit.fitting.api import RunsLike, as_table, fit_law
from scalefit.planning.ladder_result import LadderResult
from scalefit.runs import RunTable, column_for, filter_rows, run_column
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


def _quiet_fit(*args: Any, **kwargs: Any):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = fit_law(*args, **kwargs)
    return result, sorted({str(w.message) for w in caught})


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
) -> LadderResult:
    """Fit the two-step ladder (see the module docstring); ``mapping`` says which columns feed N and D,
    ``target`` (``{"N": .., "D": ..}``) is the model the plot marks. Returns a :class:`LadderResult`."""
    table = filter_rows(as_table(data), where, mapping=dict(mapping or {}))
    long = long_table(table, loss_cols=loss_cols, acc_cols=acc_cols, task=task, run=run)
    maps = {s: c for s, c in dict(mapping or {}).items() if s in ("N", "D")}
    for s in ("N", "D"):
        if column_for(long, s, maps) is None:
            raise RunDataError(f"{table.source}: no column for {s} (the ladder's L(N, D)); name it with "
                               f"--map {s}=COLUMN")
    common = {"group_by": TASK, "run": RUN, "bootstrap": bootstrap, "seed": seed, "calibrate": True}
    loss_fit, notes1 = _quiet_fit("chinchilla", long, target=TASK_LOSS, mapping=maps, reduce="last", **common)
    acc_fit, notes2 = _quiet_fit("downstream-acc-sigmoid", long, target=TASK_ACC, mapping={"L": TASK_LOSS},
                                 skip_first=skip_first, anchors=[{"L": 0.0, "Acc": 1.0}] if anchor else (),
                                 law_options={} if chance is None else {"chance": chance}, **common)
    points = _points(long, maps, skip_first)
    options = {"loss_cols": loss_cols, "acc_cols": acc_cols, "task": task, "run": run_column(table, run),
               "skip_first": skip_first, "anchor": anchor, "chance": chance, "bootstrap": bootstrap, "seed": seed,
               "mapping": maps, "where": where, "target": dict(target) if target else None}
    data_summary = {"source": table.source, "n_rows": len(table), "hash": table.digest(),
                    "tasks": sorted(set(long.frame[TASK]))}
    return LadderResult(loss_fit=loss_fit, acc_fit=acc_fit, options=options, data=data_summary, points=points,
                        notes=[*notes1, *notes2])


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
