"""TensorBoard logs (``tb:PATH``): every scalar point of every event file, read with tensorboard's own readers.

``PATH`` is a log directory (each folder holding event files is a run, named by its path below ``PATH``) or a glob
of run folders or event files (``tb:logs/lr*``). Each event file is one part, so a run resumed into a new event
file is two parts that :mod:`~scalefit.runs.trackers.parts` stitches. The reader is TensorBoard's data server (the
Rust reader behind ``tensorboard --load_fast``, see :mod:`~scalefit.runs.trackers.tb_server`) where the platform
has it, as TensorBoard itself does, else tensorboard's Python ``EventAccumulator`` one file at a time; both with
sampling off (TensorBoard samples 10,000 scalars per tag by default). Scalars written as tensors (TF2
``tf.summary.scalar``) count too; hyperparameters come from the HParams plugin.
"""

from __future__ import annotations

import glob
import logging
import warnings
from pathlib import Path

import numpy as np

from scalefit.errors import StitchWarning, TrackerError
from scalefit.runs.trackers import tb_server
from scalefit.runs.trackers.parts import Part, wide

EVENT_GLOB = "events.out.tfevents.*"
_LOADER_LOG = "tensorboard"  # tensorboard.util.tb_logging: the event-file loader logs its read errors here


def event_files(spec: str) -> dict[str, list[Path]]:
    """Run name -> its event files (sorted by name, which starts with their creation time)."""
    roots = [Path(p) for p in sorted(glob.glob(spec))] if glob.has_magic(spec) else [Path(spec)]
    if not roots or not any(r.exists() for r in roots):
        raise TrackerError(f"tb:{spec}: no such log directory or file; pass a TensorBoard log directory "
                           "(tb:PATH) or a glob of run folders (tb:'logs/*')")
    runs: dict[str, list[Path]] = {}
    for root in roots:
        files = [root] if root.is_file() else sorted(root.rglob(EVENT_GLOB))
        for f in files:
            name = f.parent.relative_to(root).as_posix() if root.is_dir() else f.parent.name
            if name == ".":
                name = root.name
            runs.setdefault(name, []).append(f)
    if not runs:
        raise TrackerError(f"tb:{spec}: no TensorBoard event files ({EVENT_GLOB}) under it; point tb: at the "
                           "folder your SummaryWriter wrote (its log_dir) or its parent")
    return runs


def read_parts(spec: str) -> list[Part]:
    """One part per event file, every scalar point, the run's HParams as its config."""
    runs = event_files(spec)
    server = tb_server.binary()
    fast = tb_server.load(server, [f for files in runs.values() for f in files]) if server else {}
    parts = []
    for run, files in runs.items():
        loaded = [(f, *(fast[f] if server else _load(f))) for f in files]
        config: dict = {}
        for _, _, _, hparams in loaded:
            config.update(hparams)
        for f, start, columns, _ in loaded:
            if not columns:
                continue
            metrics, repeats = wide(columns, str(f))
            if repeats:
                warnings.warn(StitchWarning(f"{f}: {repeats} scalar point(s) logged twice at the same step; kept "
                                            "the later ones"), stacklevel=2)
            metrics = metrics.rename(columns={"__wall_time__": "wall_time"})
            parts.append(Part(run, Path(run).name or run, str(f), start, metrics, config))
    return parts


def _load(path: Path) -> tuple[float, dict, dict]:
    """Without the data server: one event file's (first wall time, {tag: (steps, values)} with "__wall_time__"
    per step, hparams)."""
    try:
        from tensorboard.backend.event_processing import event_accumulator as ea
    except ImportError as exc:
        raise TrackerError(f"{path}: reading TensorBoard logs needs the tensorboard package: "
                           f"pip install 'scalefit[tensorboard]' ({exc})") from None
    guidance = {ea.SCALARS: 0, ea.TENSORS: 0, ea.COMPRESSED_HISTOGRAMS: 1, ea.HISTOGRAMS: 1, ea.IMAGES: 1,
                ea.AUDIO: 1}
    acc = ea.EventAccumulator(str(path), size_guidance=guidance, purge_orphaned_data=False)
    with _record_errors() as errors:
        acc.Reload()
    try:
        start = acc.FirstEventTimestamp()
    except ValueError:  # no event at all
        why = errors[0] if errors else "no events"
        raise TrackerError(f"{path}: not a readable TensorBoard event file ({why}); remove it or pass the run "
                           "folders you want (tb:'logs/run*')") from None
    corrupt = [e for e in errors if "crc32" in e]
    if corrupt:
        raise TrackerError(f"{path}: corrupt TensorBoard event file ({corrupt[0]}); the events after the damage "
                           "cannot be read: restore the file or move it out of the log directory")
    if errors:
        warnings.warn(StitchWarning(f"{path}: ends in a partial record (is the run still writing?); read the "
                                    "complete events before it"), stacklevel=3)
    columns: dict = {}
    times: dict[int, float] = {}
    tags = acc.Tags()
    for tag in sorted(tags.get(ea.SCALARS, [])):  # tags by name, as the data server path gives them
        events = acc.Scalars(tag)
        steps = np.fromiter((e.step for e in events), np.int64, len(events))
        columns[tag] = (steps, np.fromiter((e.value for e in events), float, len(events)))
        times.update(zip(steps.tolist(), (e.wall_time for e in events)))
    for tag in sorted(tags.get(ea.TENSORS, [])):
        if acc.SummaryMetadata(tag).plugin_data.plugin_name != "scalars":
            continue
        from tensorboard.util import tensor_util

        events = acc.Tensors(tag)
        steps = np.fromiter((e.step for e in events), np.int64, len(events))
        values = [tensor_util.make_ndarray(e.tensor_proto).item() for e in events]
        columns[tag] = (steps, np.asarray(values, dtype=float))
        times.update(zip(steps.tolist(), (e.wall_time for e in events)))
    if columns:
        wall = np.fromiter(times.keys(), np.int64, len(times)), np.fromiter(times.values(), float, len(times))
        columns["__wall_time__"] = wall
    return start, columns, _hparams(acc, path)


def _hparams(acc, path: Path) -> dict:
    try:
        content = acc.PluginTagToContent("hparams")
    except KeyError:
        return {}
    from tensorboard.plugins.hparams import metadata

    blob = content.get(metadata.SESSION_START_INFO_TAG)
    if blob is None:
        return {}
    try:
        info = metadata.parse_session_start_info_plugin_data(blob)
    except Exception as exc:  # a protobuf DecodeError or a version mismatch of the plugin data
        raise TrackerError(f"{path}: unreadable HParams plugin data ({exc})") from None
    return tb_server.hparam_values(info)


class _record_errors:
    """Collect the event-file loader's swallowed read errors (truncated record, failed crc32 check)."""

    def __enter__(self) -> list[str]:
        self.errors: list[str] = []
        self.log = logging.getLogger(_LOADER_LOG)
        self.level, self.propagate = self.log.level, self.log.propagate
        self.log.propagate = False
        self.handler = _Collect(self.errors)
        self.log.addHandler(self.handler)
        self.log.setLevel(logging.DEBUG)
        return self.errors

    def __exit__(self, *exc: object) -> None:
        self.log.removeHandler(self.handler)
        self.log.setLevel(self.level)
        self.log.propagate = self.propagate


class _Collect(logging.Handler):
    def __init__(self, errors: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.errors = errors

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("Truncated record"):
            self.errors.append(str(record.args[-1]) if record.args else record.getMessage())


__all__ = ["EVENT_GLOB", "event_files", "read_parts"]
