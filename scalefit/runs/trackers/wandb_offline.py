"""Weights & Biases run folders (``wandb:PATH``): the ``run-*.wandb`` transaction logs that ``wandb`` writes
(``WANDB_MODE=offline``, or beside any synced run), read with the wandb package's own reader.

The reader is the ``wandb-core`` binary shipped in the wandb wheel (``wandb leet inspect --json``: every record of
the log as one JSON object per line, into a temporary file; no network, no telemetry), one process per run log, as
many at once as there are cores; the history lines are decoded in one JSON call per log. Every history row is
read, never a sample. A W&B run resumed offline writes one folder per resume (same run id): each folder is a part,
stitched by run id.

wandb-core prints each record as JSON at some tens of microseconds a record (three records a logged step in wandb
0.31: the history row and two summary updates), so a log of a million steps takes minutes. What was read is cached
as Parquet in the user's cache folder (``$SCALEFIT_CACHE``, else ``$XDG_CACHE_HOME/scalefit`` or
``~/.cache/scalefit``; under ``wandb/offline``), keyed by a SHA-256 of the log's bytes: reading the same log again
reads the Parquet (a log still being written has new bytes, so it is read again). Nothing is written beside the
runs.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
import warnings
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import TrackerError
from scalefit.runs.trackers.parts import Part

RUN_GLOB = "run-*.wandb"
_HISTORY = b'"type":"history"'
_WANTED = (b'"type":"run"', b'"type":"config"')  # the other records read: the run's config and its updates
_SKIP = frozenset({"_step"})  # history keys that are not columns (`_step` becomes `step`)


def run_files(path: Path) -> list[Path]:
    """The transaction logs under ``path`` (a ``.wandb`` file, a run folder, a ``wandb/`` folder or its parent)."""
    if not path.exists():
        raise TrackerError(f"wandb:{path}: no such folder; pass a wandb folder (the one holding offline-run-* or "
                           "run-* folders) or wandb:ENTITY/PROJECT")
    files = [path] if path.is_file() else sorted(path.rglob(RUN_GLOB))
    if not files:
        raise TrackerError(f"wandb:{path}: no W&B runs (no {RUN_GLOB} file under it); point wandb: at the folder "
                           "that holds wandb/ (WANDB_DIR) or at wandb/ itself")
    return files


CACHE_FORMAT = "1"  # bump when what a cached part holds changes: older entries are then never read
_META = b"scalefit.wandb_part"  # the Parquet schema metadata key holding a cached part's run, name, start, config


def read_parts(path: Path) -> list[Part]:
    """One part per transaction log: its config, every history row (from the cache where the log was read
    before)."""
    files = run_files(path)
    workers = max(1, min(len(files), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        entries = list(pool.map(_entry, files))  # hashing releases the GIL: one file per core
        parts = list(pool.map(_cached, files, entries))
        todo = [i for i, part in enumerate(parts) if part is None]
        if todo:
            core = _core(path)  # one wandb-core per core reads in parallel
            for i, part in zip(todo, pool.map(lambda i: _read(core, files[i]), todo)):
                parts[i] = part
                if part is not None:
                    _store(part, entries[i])
    return [part for part in parts if part is not None]


def _entry(f: Path) -> Path:
    """The cache file for the log ``f``: named by the SHA-256 of its bytes."""
    from scalefit.runs.trackers.wandb_api import cache_dir

    with open(f, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return cache_dir() / "offline" / f"{digest[:40]}-v{CACHE_FORMAT}.parquet"


def _cached(f: Path, entry: Path) -> Part | None:
    """The part cached for ``f`` (its label this read's folder), or None when there is none or it is unreadable."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(entry)
        meta = json.loads((table.schema.metadata or {})[_META])
        return Part(meta["run_id"], meta["run_name"], str(f.parent), float(meta["start"]), table.to_pandas(),
                    meta["config"])
    except (OSError, ValueError, KeyError, TypeError):  # no entry, or not one we wrote whole: read the log
        return None


def _store(part: Part, entry: Path) -> None:
    """Cache ``part`` (best effort: an unwritable cache only costs the next read the wandb-core pass)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scalefit._io import atomic_path
    from scalefit.errors import OutputPathError, ScalefitWarning

    try:
        meta = json.dumps({"run_id": part.run_id, "run_name": part.run_name, "start": part.start,
                           "config": part.config})  # the config came from JSON: it goes back to JSON
        table = pa.Table.from_pandas(part.metrics, preserve_index=False)
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), _META: meta.encode()})
        with atomic_path(entry) as tmp:
            pq.write_table(table, tmp)
    except (OutputPathError, OSError, ValueError, TypeError, pa.ArrowException) as exc:
        warnings.warn(f"W&B read cache not written ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
                      "set SCALEFIT_CACHE to a writable folder", ScalefitWarning, stacklevel=4)


def _core(path: Path) -> str:
    try:
        from wandb.util import get_core_path
    except ImportError as exc:
        raise TrackerError(f"wandb:{path}: reading W&B runs needs wandb: pip install 'scalefit[wandb]' "
                           f"({exc})") from None
    return get_core_path()


def _read(core: str, f: Path) -> Part | None:
    cmd = [core, "leet", "inspect", "--no-observability", "--json", "--run-file", str(f), str(f.parent.parent)]
    # Both streams to temporary files, not pipes: wandb-core writes each record with a system call of its own, and
    # a reader woken for each of them costs several times the reading (and a chatty stderr can never block it)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as errors:
        code = subprocess.run(cmd, stdout=out, stderr=errors, stdin=subprocess.DEVNULL).returncode
        errors.seek(0)
        err = errors.read().decode("utf-8", "replace")
        out.seek(0)
        run, config, lines = _records(out) if code == 0 else ({}, {}, [])
    if code != 0:
        why = err.strip().splitlines()[-1].removeprefix("Error: ") if err.strip() else f"exit code {code}"
        hint = _upgrade_hint() if "newer" in why else "the file is damaged or not a W&B run log: move it out"
        raise TrackerError(f"{f}: cannot read this W&B run ({why}); {hint}")
    if not lines:
        return None
    records = json.loads(b"[" + b",".join(lines) + b"]")  # one decode: no per-line call overhead
    del lines
    rows = [r["history"]["item"] for r in records]
    steps = [item.get("_step", r["history"].get("step", {}).get("num", i)) for i, (r, item) in
             enumerate(zip(records, rows))]
    del records
    config.pop("_wandb", None)
    metrics = history_frame(rows, steps, f)
    run_id = run.get("run_id") or f.stem.removeprefix("run-")
    start = _seconds(run.get("start_time")) or f.stat().st_mtime
    name = run.get("display_name") or run_id
    if run.get("run_group"):
        config.setdefault("wandb_group", run["run_group"])
    return Part(run_id, name, str(f.parent), start, metrics, config)


def _records(out) -> tuple[dict, dict, list[bytes]]:
    """The run record, the config (with its updates) and the history lines of wandb-core's JSON lines."""
    run: dict = {}
    config: dict = {}
    lines: list[bytes] = []
    for line in out:
        if line.find(_HISTORY, 0, 48) >= 0:
            lines.append(line)  # decoded all at once by the caller
            continue
        if line.find(_WANTED[0], 0, 48) < 0 and line.find(_WANTED[1], 0, 48) < 0:
            continue  # summary, telemetry, stats ... records: never parsed
        record = json.loads(line)
        kind = record.get("type")
        if kind == "run":
            run = record["run"]
            config.update(run.get("config", {}).get("update", {}))
        elif kind == "config":
            config.update(record["config"].get("update", {}))
    return run, config, lines


def history_frame(rows: list[dict] | pd.DataFrame, steps, f: Path) -> pd.DataFrame:
    """History rows (dicts, or a frame of them) as columns: numbers kept, media (``{"_type": ...}``) skipped,
    anything else refused."""
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame.from_records(rows)
    frame = frame.drop(columns=[c for c in _SKIP if c in frame.columns])
    out = {"step": np.asarray(steps, dtype=np.int64)}
    for col in frame.columns:
        values = frame[col]
        if values.dtype.kind in "biuf":  # numbers (text columns are str, not object, since pandas 3)
            out[col] = values.to_numpy()
            continue
        media = values.map(lambda v: isinstance(v, dict) and "_type" in v)
        if media.any():
            continue
        numeric = pd.to_numeric(values, errors="coerce")
        bad = numeric.isna() & values.notna() & ~values.map(_is_nan_text)
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            raise TrackerError(f"{f}: step {steps[i]}: metric {col!r} is {values.iloc[i]!r}, not a number "
                               f"({int(bad.sum())} such points); log numbers only, or drop the metric from the run")
        out[col] = numeric.to_numpy(dtype=float)
    return pd.DataFrame(out)


def _is_nan_text(v: object) -> bool:
    return isinstance(v, str) and v in ("NaN", "Infinity", "-Infinity")


def _upgrade_hint() -> str:
    try:
        import wandb

        have = wandb.__version__
    except ImportError:
        have = "none"
    return f"upgrade wandb (installed: {have}): pip install -U wandb"


def _seconds(iso: object) -> float | None:
    if not isinstance(iso, str):
        return None
    try:
        return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


__all__ = ["RUN_GLOB", "history_frame", "read_parts", "run_files"]
