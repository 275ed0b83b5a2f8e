"""Weights & Biases projects over the network (``wandb:ENTITY/PROJECT``): every history row of every run.

Uses ``wandb.Api`` (the user's credentials: ``WANDB_API_KEY`` or ``wandb login``). ``run.history()`` returns a
500-point sample that changes between calls, so it is never used. The full history comes from the run's history
artifact (``run-ID-history``, type ``wandb-history``: W&B's Parquet export of every row) where the run has one, its
rows after the export's last step (a run still logging) from ``run.scan_history``; a run without one is read with
``run.scan_history`` alone (every row, paged). Calls that hit the rate limit (HTTP 429) or a transient server
error are retried with exponential back-off. Finished runs are cached as Parquet under
``~/.cache/scalefit/wandb/ENTITY/PROJECT`` (or ``SCALEFIT_CACHE``), keyed by run id and the run's last update, so a
second read makes one listing call only.
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from scalefit import _io
from scalefit.errors import TrackerError
from scalefit.runs.trackers.parts import Part

PAGE_SIZE = 10_000  # history rows per scan_history request
TRIES = 6  # attempts per call before giving up (back-off 1, 2, 4, 8, 16 s)
HISTORY_TYPE = "wandb-history"  # the artifact type of W&B's Parquet history export (``run-ID-history``)
FINISHED = frozenset({"finished", "crashed", "failed", "killed"})  # states whose history no longer changes


def cache_dir() -> Path:
    """Where W&B reads are cached: the ``wandb`` folder of scalefit's cache (:func:`scalefit._io.cache_dir`)."""
    return _io.cache_dir() / "wandb"


def read_parts(project: str, *, api: Any = None, cache: Path | None = None,
               sleep: Callable[[float], None] = time.sleep) -> list[Part]:
    """One part per run of ``ENTITY/PROJECT``; ``api`` defaults to ``wandb.Api()``."""
    if api is None:
        api = _api(project)
    folder = (cache or cache_dir()) / project
    runs = backoff(lambda: list(api.runs(project)), f"wandb:{project}", sleep)
    parts = []
    for run in runs:
        metrics = _history(run, project, folder, sleep)
        if metrics is None or metrics.empty:
            continue
        config = {k: v for k, v in dict(run.config).items() if not k.startswith("_")}
        if getattr(run, "group", None):
            config.setdefault("wandb_group", run.group)
        parts.append(Part(run.id, run.name or run.id, f"wandb:{project}/{run.id}", _seconds(run.created_at),
                          metrics, config))
    return parts


def _api(project: str):
    try:
        import wandb
    except ImportError as exc:
        raise TrackerError(f"wandb:{project}: reading W&B projects needs wandb: pip install 'scalefit[wandb]' "
                           f"({exc})") from None
    try:
        return wandb.Api(timeout=60)
    except Exception as exc:  # no credentials, no network: wandb raises its own UsageError / CommError
        raise TrackerError(f"wandb:{project}: cannot reach the W&B API ({str(exc).splitlines()[0]}); log in "
                           "(`wandb login` or WANDB_API_KEY), or read the local run folders with wandb:PATH") from None


def _history(run, project: str, folder: Path, sleep) -> pd.DataFrame | None:
    stamp = hashlib.sha256(f"{run.id}|{getattr(run, 'updated_at', '')}".encode()).hexdigest()[:12]
    path = folder / f"{run.id}-{stamp}.parquet"
    if path.exists():
        return pd.read_parquet(path)
    where = f"wandb:{project}/{run.id}"
    exported = _exported(run, where, sleep)
    after = 0 if exported is None or exported.empty else int(exported["step"].max()) + 1
    complete = exported is not None and after > _last_step(run, where, sleep, after)
    scanned = None if complete else _scanned(run, where, sleep, after)
    frames = [f for f in (exported, scanned) if f is not None and not f.empty]
    if not frames:
        return None
    frame = pd.concat(frames, ignore_index=True, sort=False) if len(frames) > 1 else frames[0]
    if getattr(run, "state", None) in FINISHED:
        _save(frame, path)
    return frame


def _exported(run, where: str, sleep) -> pd.DataFrame | None:
    """The rows of the run's history artifact (its latest version), or None when the run has none."""
    found = backoff(lambda: [a for a in run.logged_artifacts() if getattr(a, "type", None) == HISTORY_TYPE],
                    where, sleep)
    if not found:
        return None
    artifact = max(found, key=_version)
    from scalefit.runs.trackers.wandb_export import history

    with tempfile.TemporaryDirectory(prefix="scalefit-wandb-") as tmp:
        root = Path(backoff(lambda: artifact.download(root=tmp), where, sleep))
        files = sorted(root.rglob("*.parquet"))
        return history(files) if files else None


def _version(artifact) -> int:
    text = str(getattr(artifact, "version", "v0"))
    return int(text[1:]) if text[:1] == "v" and text[1:].isdigit() else -1


def _last_step(run, where: str, sleep, after: int) -> int:
    """The run's last history step (``after`` - 1 where the API does not say: nothing more is scanned)."""
    last = backoff(lambda: getattr(run, "lastHistoryStep", None), where, sleep)
    return int(last) if isinstance(last, (int, float)) and not isinstance(last, bool) else after - 1


def _scanned(run, where: str, sleep, after: int) -> pd.DataFrame | None:
    """History rows from step ``after`` on, through ``run.scan_history`` (paged)."""
    rows = backoff(lambda: list(run.scan_history(page_size=PAGE_SIZE, min_step=after)), where, sleep)
    if not rows:
        return None
    frame = pd.DataFrame.from_records(rows)
    if "_step" not in frame.columns:
        raise TrackerError(f"{where}: history rows without _step; cannot order them")
    from scalefit.runs.trackers.wandb_offline import history_frame

    steps = frame["_step"].astype("int64").tolist()
    return history_frame(frame.drop(columns="_step").to_dict("records"), steps, Path(where))


def _save(frame: pd.DataFrame, path: Path) -> None:
    from scalefit._io import atomic_path

    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, index=False)


def backoff(call: Callable[[], Any], where: str, sleep: Callable[[float], None] = time.sleep) -> Any:
    """``call()``, retried on rate limits (HTTP 429) and transient errors (5xx, timeouts) with waits of
    1, 2, 4 ... seconds; other errors, and the last failure, as one TrackerError."""
    for attempt in range(TRIES):
        try:
            return call()
        except TrackerError:
            raise
        except Exception as exc:
            if not _transient(exc) or attempt == TRIES - 1:
                why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                tried = f" after {attempt + 1} tries" if attempt else ""
                raise TrackerError(f"{where}: the W&B API failed{tried} ({why})") from None
            sleep(min(2.0**attempt, 60.0))
    raise AssertionError("unreachable")


def _transient(exc: Exception) -> bool:
    status = getattr(getattr(exc, "response", None), "status_code", None) or getattr(exc, "status_code", None)
    if isinstance(status, int):
        return status == 429 or status >= 500
    text = str(exc).lower()
    return any(s in text for s in ("429", "rate limit", "too many requests", "timed out", "timeout", "503", "502"))


def _seconds(value: object) -> float:
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            pass
    return 0.0


__all__ = ["backoff", "cache_dir", "read_parts"]
