"""One table from a tracker's runs: parts (a tracker run, an event file) laid out one row per (run, step), the
run's config flattened beside its metrics (``config.lr``), and resumed runs stitched (latest part wins).

A *part* is what a tracker stores as one unit: an MLflow run, a W&B run folder (a resumed W&B run writes one per
resume), a TensorBoard event file (a resumed writer starts a new file in the run's folder). Parts are ordered by
when they started; a run's rows are its parts' rows in that order, and where two parts log the same step the later
part's row is kept (the run was resumed from an earlier checkpoint and re-logged those steps). What was dropped is
reported as a :class:`~scalefit.errors.StitchWarning`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError, StitchWarning

CONFIG_PREFIX = "config."  # flattened config columns: config.lr, config.model.width
ID_COLUMNS = ("run_id", "run_name", "part", "step")  # first columns of every tracker table, in order


@dataclass
class Part:
    """One stored unit of a run: its metrics by step and the run's config."""

    run_id: str  # the tracker's run id (a TensorBoard run folder, an MLflow run id, a W&B run id)
    run_name: str  # the run's display name
    label: str  # where the part is: a file, a folder or a store URI with the run id (error messages, `part` column)
    start: float  # when the part started (seconds since the epoch; orders parts)
    metrics: pd.DataFrame  # `step` and one column per metric (and the tracker's time columns), one row per step
    config: dict = field(default_factory=dict)  # the run's config, nested dicts allowed


def flatten(config: Mapping, prefix: str = CONFIG_PREFIX) -> dict:
    """``{"model": {"width": 64}}`` -> ``{"config.model.width": 64}``; lists and other containers as JSON text."""
    out: dict = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, name + "."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value, default=str)
        else:
            out[name] = value
    return out


def assemble(parts: Iterable[Part], source: str, stitch: str | None = None) -> pd.DataFrame:
    """The parts as one frame: ``run_id, run_name, part, step``, the metrics, then the ``config.*`` columns.

    Rows keep their parts' start order; a run's repeated steps keep the latest part's row (reported). With
    ``stitch`` (a column, e.g. ``config.name``), parts with the same value of it form one run whose ``run_id`` is
    that value."""
    ordered = sorted(parts, key=lambda p: (p.start, p.label))
    if not ordered:
        raise RunDataError(f"{source}: no runs with logged metrics found")
    metrics = pd.concat([p.metrics for p in ordered], ignore_index=True, sort=False)
    lengths = [len(p.metrics) for p in ordered]
    per_part = [{"run_id": p.run_id, "run_name": p.run_name, "part": p.label, **flatten(p.config)} for p in ordered]
    small = pd.concat([pd.DataFrame([d]) for d in per_part], ignore_index=True, sort=False)  # one row per part,
    codes = np.repeat(np.arange(len(ordered)), lengths)  # in the dtypes concatenating the parts' rows would give
    constant = {name: _broadcast(small[name], codes) for name in small.columns}
    configs = sorted(c for c in constant if c.startswith(CONFIG_PREFIX))
    values = [c for c in metrics.columns if c != "step"]
    frame = pd.DataFrame({**{c: constant[c] for c in ID_COLUMNS[:3]}, "step": metrics["step"],
                          **{c: metrics[c] for c in values}, **{c: constant[c] for c in configs}})
    if stitch is not None:
        return latest_wins(stitched(frame, stitch, source), source)
    parts_of = Counter(p.run_id for p in ordered)
    if all(parts_of[p.run_id] == 1 and bool(np.all(np.diff(p.metrics["step"].to_numpy()) > 0)) for p in ordered):
        return frame  # one part per run, its steps increasing: no step repeats (nothing to hash)
    return latest_wins(frame, source)


def _broadcast(small: pd.Series, codes: np.ndarray) -> pd.Series:
    """One value per part repeated over the part's rows (``codes``: each row's part), in ``small``'s dtype (text
    through Arrow's take: a million rows' text column in milliseconds, never one Python object per row)."""
    return pd.Series(small.array.take(codes))


def stitched(frame: pd.DataFrame, key: str, source: str, run: str = "run_id", part: str = "part") -> pd.DataFrame:
    """``frame`` with its ``run`` column replaced by the text of column ``key`` (the parts' common identity)."""
    if key not in frame.columns:
        near = [c for c in frame.columns if c.split(".")[-1] == key.split(".")[-1]]
        hint = f" (did you mean {', '.join(near)}?)" if near else f"; columns are {list(frame.columns)}"
        raise RunDataError(f"{source}: --stitch {key}: no such column{hint}")
    values = frame[key]
    missing = values.isna().to_numpy()
    if missing.any():
        where = frame[part].iloc[int(np.flatnonzero(missing)[0])]
        raise RunDataError(f"{source}: --stitch {key}: the part {where} has no value for {key}; stitch by a column "
                           "every run has (e.g. config.name)")
    out = frame.copy()
    out[run] = [_text(v) for v in values]
    return out


def _text(value: object) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def latest_wins(frame: pd.DataFrame, source: str, run: str = "run_id", step: str = "step",
                part: str = "part") -> pd.DataFrame:
    """Keep one row per (run, step): the last one (rows are in part order); warn what was dropped."""
    dup = frame.duplicated([run, step], keep="last").to_numpy()
    if not dup.any():
        return frame.reset_index(drop=True)
    dropped = frame[dup]
    for name, rows in dropped.groupby(run, sort=False):
        mine = (frame[run] == name).to_numpy()
        later = frame.loc[~dup & mine & frame[step].isin(rows[step]).to_numpy(), part].unique()
        steps = rows[step]
        warnings.warn(StitchWarning(
            f"{source}: run {name}: {len(rows)} step(s) logged twice ({steps.min()}..{steps.max()}) by "
            f"{', '.join(map(str, rows[part].unique()))}; kept the later rows (from {', '.join(map(str, later))})"
        ), stacklevel=3)
    return frame[~dup].reset_index(drop=True)


def wide(columns: Mapping[str, tuple[np.ndarray, np.ndarray]], where: str) -> tuple[pd.DataFrame, int]:
    """Per-metric (steps, values) series as one frame by step (outer join), and the number of repeated
    (metric, step) points dropped (the last logged kept)."""
    axis = _common_steps(columns)
    if axis is not None:  # every series on one increasing step axis: nothing to join, nothing repeated
        return pd.DataFrame({"step": axis, **{k: np.asarray(v, dtype=float) for k, (_, v) in columns.items()}}), 0
    series, repeats = [], 0
    for name, (steps, values) in columns.items():
        s = pd.Series(np.asarray(values, dtype=float), index=pd.Index(np.asarray(steps, dtype=np.int64)), name=name)
        dup = s.index.duplicated(keep="last")
        repeats += int(dup.sum())
        series.append(s[~dup])
    if not series:
        return pd.DataFrame({"step": np.array([], dtype=np.int64)}), 0
    frame = pd.concat(series, axis=1, sort=True) if len(series) > 1 else series[0].sort_index().to_frame()
    frame.index.name = "step"
    return frame.reset_index(), repeats


def _common_steps(columns: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> np.ndarray | None:
    """The series' steps where all series have the same strictly increasing steps (else None)."""
    if not columns or "step" in columns:
        return None
    steps = [np.asarray(s, dtype=np.int64) for s, _ in columns.values()]
    first = steps[0]
    if not len(first) or not bool(np.all(first[1:] > first[:-1])):
        return None
    return first if all(np.array_equal(s, first) for s in steps[1:]) else None


__all__ = ["CONFIG_PREFIX", "Part", "assemble", "flatten", "latest_wins", "stitched", "wide"]
