"""Run logs kept in trackers' stores, read with each tracker's own library (optional extras):

=====================================  ======================================================================
``tb:PATH``                            TensorBoard event files under a log directory, or a glob (``tensorboard``)
``mlflow:URI#EXPERIMENT``              an MLflow tracking store and experiment (``mlflow``)
``wandb:PATH``                         W&B run folders written offline or synced (``wandb``), or W&B history
                                       exports: Parquet files (``run-ID-history`` artifacts; pyarrow)
``wandb:ENTITY/PROJECT``               a W&B project over the API (``wandb``; network and credentials)
a folder of event files or W&B runs    the same as ``tb:``/``wandb:`` with it
=====================================  ======================================================================

Each is read into one row per (run, step): ``run_id, run_name, part, step``, the metrics (and the tracker's time
columns: TensorBoard ``wall_time``, MLflow ``timestamp``, W&B ``_runtime``/``_timestamp``), then the run's config
flattened as ``config.KEY`` columns, so ``--map``, ``--run``, ``--reduce`` and ``--skip-first`` work as on a CSV.
Appending ``?stitch=COLUMN`` (the CLI's ``--stitch COLUMN``) joins the tracker runs that share that column's value
(a run resumed as several tracker runs) into one run; repeated steps keep the latest part's row, reported as a
:class:`~scalefit.errors.StitchWarning`. Nothing is written beside the runs (W&B reads are cached in the user's
cache folder: finished runs' API histories, and offline run logs by their bytes).
"""

from __future__ import annotations

from pathlib import Path

from scalefit.errors import RunDataError
from scalefit.runs.trackers.parts import CONFIG_PREFIX, Part, assemble, latest_wins, stitched

PREFIXES = ("tb:", "mlflow:", "wandb:")
STITCH = "?stitch="


def split_stitch(ref: object) -> tuple[str, str | None]:
    """``"tb:logs?stitch=config.name"`` -> ``("tb:logs", "config.name")``."""
    text = str(ref)
    base, sep, key = text.rpartition(STITCH)
    if not sep:
        return text, None
    if not key.strip():
        raise RunDataError(f"{text}: ?stitch= needs a column, e.g. ?stitch=config.name")
    return base, key.strip()


def with_stitch(ref: object, key: str | None) -> object:
    """``ref`` with ``?stitch=KEY`` appended (``ref`` itself when ``key`` is None)."""
    return ref if key is None else f"{ref}{STITCH}{key}"


def kind(ref: object) -> str | None:
    """``"tb"``, ``"mlflow"`` or ``"wandb"`` for a tracker reference (a prefix, a ``?stitch=`` suffix, or a folder
    holding event files or W&B runs); None for anything else."""
    base, stitch = split_stitch(ref)
    for prefix in PREFIXES:
        if base.startswith(prefix):
            return prefix[:-1]
    p = Path(base)
    if p.is_dir():
        from scalefit.runs.trackers.tensorboard import EVENT_GLOB
        from scalefit.runs.trackers.wandb_offline import RUN_GLOB

        if next(p.rglob(EVENT_GLOB), None) is not None:
            return "tb"
        if next(p.rglob(RUN_GLOB), None) is not None:
            return "wandb"
    return "file" if stitch is not None else None


def read_parts(ref: str) -> list[Part]:
    """The parts stored at ``ref`` (no ``?stitch=``)."""
    what = kind(ref)
    body = ref.split(":", 1)[1] if ref.startswith(PREFIXES) else ref
    if what == "tb":
        from scalefit.runs.trackers.tensorboard import read_parts as tb

        return tb(body)
    if what == "mlflow":
        from scalefit.runs.trackers.mlflow_store import read_parts as mlflow

        return mlflow(body)
    local = Path(body)
    if local.exists() or body.startswith((".", "/", "~")) or body.count("/") != 1:
        from scalefit.runs.trackers.wandb_export import is_export
        from scalefit.runs.trackers.wandb_export import read_parts as export
        from scalefit.runs.trackers.wandb_offline import read_parts as offline

        return (export if is_export(local.expanduser()) else offline)(local.expanduser())
    from scalefit.runs.trackers.wandb_api import read_parts as api

    return api(body)


def read_tracker(ref: object, stitch: str | None = None):
    """A :class:`~scalefit.runs.table.RunTable` from a tracker reference (see the module doc); ``stitch`` (or a
    ``?stitch=COLUMN`` suffix) joins the tracker runs sharing that column's value into one run."""
    from scalefit.runs.table import RunTable, read_runs

    base, suffix = split_stitch(ref)
    key = stitch or suffix
    if kind(base) is None:  # a file run log: its runs (by the run key) are the parts, in file order
        table = read_runs(base)
        return table if key is None else RunTable.from_frame(_stitch_file(table, key), table.source)
    frame = assemble(read_parts(base), base, key)
    return RunTable.from_frame(frame, base)


def _stitch_file(table, key: str):
    from scalefit.runs.reduce import order_column, run_column

    run, order = run_column(table), order_column(table)
    if run is None or order is None:
        raise RunDataError(f"{table.source}: --stitch {key} needs a run column (run_id, run or run_name) and a "
                           "step column to join runs by")
    frame = table.frame.assign(_part=table.frame[run])
    frame = latest_wins(stitched(frame, key, table.source, run=run, part="_part"), table.source, run=run,
                        step=order, part="_part")
    return frame.drop(columns="_part")


__all__ = ["CONFIG_PREFIX", "PREFIXES", "kind", "read_parts", "read_tracker", "split_stitch", "with_stitch"]
