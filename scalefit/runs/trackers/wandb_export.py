"""W&B run histories exported as Parquet (``wandb:PATH`` where PATH is a ``.parquet`` file or a folder of them).

W&B keeps each run's full-resolution history as Parquet in the run's history artifact (``run-RUN_ID-history``,
files ``0000.parquet``, ``0001.parquet`` ...; columns ``_step``, ``_runtime``, ``_timestamp`` and the metrics). A
folder holding Parquet files is one run (its files are chunks of the history, read in name order), named after the
folder (``run-abc123-history:v0`` -> ``abc123``); a Parquet file given directly is a run named after the file. The
run's config is read from a W&B ``config.yaml`` beside the files (``run.file("config.yaml").download()``), when
there is one. Values follow the offline reader's rules: numbers kept, media skipped, text refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import TrackerError
from scalefit.runs.trackers.parts import Part

CONFIG_FILE = "config.yaml"
_ARTIFACT = re.compile(r"^run-(.+)-history(?::v\d+)?$")


def is_export(path: Path) -> bool:
    """Whether ``path`` is a history export: a Parquet file, or a folder with Parquet files and no W&B run logs."""
    from scalefit.runs.trackers.wandb_offline import RUN_GLOB

    if path.is_file():
        return path.suffix.lower() == ".parquet"
    if not path.is_dir():
        return False
    return next(path.rglob("*.parquet"), None) is not None and next(path.rglob(RUN_GLOB), None) is None


def read_parts(path: Path) -> list[Part]:
    """One part per exported run: its history rows, its config.yaml when present."""
    runs: dict[Path, list[Path]] = {}
    for f in [path] if path.is_file() else sorted(path.rglob("*.parquet")):
        runs.setdefault(f if f == path else f.parent, []).append(f)
    return [_read(where, files) for where, files in runs.items()]


def _read(where: Path, files: list[Path]) -> Part:
    metrics = history(files)
    name = where.stem if where.is_file() else where.name
    found = _ARTIFACT.match(name)
    run_id = found.group(1) if found else name
    config = _config(where.parent if where.is_file() else where)
    start = float(metrics["_timestamp"].min()) if "_timestamp" in metrics.columns and len(metrics) else 0.0
    return Part(run_id, run_id, str(where), start, metrics, config)


def history(files: list[Path]) -> pd.DataFrame:
    """One run's history from its Parquet chunks: ``step`` (from ``_step``), then the numeric columns, by step."""
    frames = []
    for f in files:
        try:
            frames.append(pd.read_parquet(f))
        except Exception as exc:  # pyarrow's ArrowInvalid / OSError on a damaged or non-Parquet file
            raise TrackerError(f"{f}: not a readable Parquet file ({str(exc).splitlines()[0]}); re-download the "
                               "run's history artifact") from None
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if "_step" not in frame.columns:
        raise TrackerError(f"{files[0]}: no _step column; a W&B history export has _step, _runtime, _timestamp and "
                           f"the metrics (columns here: {', '.join(map(str, frame.columns[:8]))})")
    steps = frame["_step"]
    if steps.isna().any():
        i = int(np.flatnonzero(steps.isna().to_numpy())[0])
        raise TrackerError(f"{files[0]}: row {i + 1}: _step is empty; every history row has a step")
    from scalefit.runs.trackers.wandb_offline import history_frame

    metrics = history_frame(frame.drop(columns="_step"), steps.to_numpy(dtype=np.int64), files[0])
    if metrics["step"].is_monotonic_increasing:  # as W&B writes it: no reordering copy of every column
        return metrics.reset_index(drop=True)
    return metrics.sort_values("step", kind="stable").reset_index(drop=True)  # chunks in name order


def _config(folder: Path) -> dict:
    f = folder / CONFIG_FILE
    if not f.is_file():
        return {}
    import yaml

    try:
        data = yaml.safe_load(f.read_text())
    except yaml.YAMLError as exc:
        raise TrackerError(f"{f}: not a readable W&B config ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TrackerError(f"{f}: a W&B config.yaml maps each key to {{value: ...}}; this one is a "
                           f"{type(data).__name__}")
    return {k: v.get("value") if isinstance(v, dict) and "value" in v else v for k, v in data.items()
            if not str(k).startswith("_")}


__all__ = ["CONFIG_FILE", "history", "is_export", "read_parts"]
