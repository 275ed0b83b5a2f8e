"""Event files read by TensorBoard's own data server (``tensorboard-data-server``, the Rust reader behind
``tensorboard --load_fast``), which ships with the ``tensorboard`` package on Linux x86-64 and macOS.

The server is started on a private log directory holding one symlink folder per event file (so each file is its own
run: a resumed writer's second file stays a separate part), with ``--reload=once``, every scalar kept
(``--samples-per-plugin=scalars=all``) and every record checksummed; it is asked for every point of every scalar
(``ReadScalars`` with a downsample count above any series' length) over gRPC on localhost, then stopped. Within one
event file, a step logged again discards that file's points logged after it (TensorBoard's own rule for a job
restarted from a checkpoint). Read errors the server logs (a failed checksum, a damaged record) are errors here.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from scalefit.errors import TrackerError

ALL_POINTS = 2**62  # ReadScalars downsample count: above any series' length, so the server returns every point
_LOADED = b"Finished load cycle"
_READ_ERROR = re.compile(r"Read error in (.+?): (.*)$")
_SAMPLES = "scalars=all,images=0,audio=0,histograms=0"  # every scalar; media are never read here
# glibc's malloc grows a thread's heap by what is asked plus M_TOP_PAD (128 KiB): the server's per-tag point vectors
# then grow in tens of thousands of mprotect calls; 64 MiB steps cut its CPU time by about a quarter (glibc's
# documented mallopt environment variable; other allocators ignore it)
_MALLOC = {"MALLOC_TOP_PAD_": str(64 << 20)}
_HPARAMS_PLUGIN, _SESSION_START = "hparams", "_hparams_/session_start_info"  # tensorboard.plugins.hparams.metadata's


def binary() -> str | None:
    """The data server shipped with tensorboard on this platform, or None (then the Python reader is used)."""
    try:
        import tensorboard_data_server
    except ImportError:
        return None
    return tensorboard_data_server.server_binary()


def load(server: str, files: list[Path]) -> dict[Path, tuple[float, dict, dict]]:
    """Each event file's (first wall time, {tag: (steps, values)} with "__wall_time__" per step, hparams)."""
    with tempfile.TemporaryDirectory(prefix="scalefit-tb-") as tmp:
        root = Path(tmp) / "logdir"
        for i, f in enumerate(files):
            (root / str(i)).mkdir(parents=True)
            (root / str(i) / f.name).symlink_to(f.resolve())
        port_file = Path(tmp) / "port"
        cmd = [server, f"--logdir={root}", "--reload=once", f"--samples-per-plugin={_SAMPLES}", "--checksum",
               "--port=0", f"--port-file={port_file}", "--die-after-stdin"]
        env = {**os.environ, "RUST_LOG": "rustboard_core=info", **_MALLOC}  # the load cycle's end is an INFO line
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                env=env)
        try:
            errors = _until_loaded(proc, root, files)
            port = int(port_file.read_text().strip())
            return _read(port, files, errors)
        finally:
            proc.stdin.close()  # --die-after-stdin: the server exits
            proc.stderr.close()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _until_loaded(proc: subprocess.Popen, root: Path, files: list[Path]) -> dict[Path, str]:
    """Read the server's log until its load cycle ends; the read errors it logged, by event file."""
    errors: dict[Path, str] = {}
    last = b""
    for line in proc.stderr:
        if _LOADED in line:
            return errors
        last = line
        found = _READ_ERROR.search(line.decode("utf-8", "replace").rstrip())
        if found:
            link = Path(found.group(1))
            try:
                f = files[int(link.relative_to(root).parts[0])]
            except (ValueError, IndexError):
                continue
            errors.setdefault(f, found.group(2))
    code = proc.wait()
    why = last.decode("utf-8", "replace").strip() or f"exit code {code}"
    raise TrackerError(f"{files[0].parent}: TensorBoard's data server stopped before reading the logs ({why})")


def _stub(port: int):
    import grpc
    from tensorboard.data.proto import data_provider_pb2_grpc

    options = [("grpc.max_receive_message_length", -1), ("grpc.enable_http_proxy", 0)]  # a local server: no proxy
    channel = grpc.insecure_channel(f"localhost:{port}", options=options)
    return channel, data_provider_pb2_grpc.TensorBoardDataProviderStub(channel)


def _read(port: int, files: list[Path], errors: dict[Path, str]) -> dict[Path, tuple[float, dict, dict]]:
    from tensorboard.data.proto import data_provider_pb2 as pb

    channel, stub = _stub(port)
    try:
        runs = {r.name: r.start_time for r in stub.ListRuns(pb.ListRunsRequest()).runs}
        hparams = _hparams(stub, pb, files)
        out = {}
        for i, f in enumerate(files):
            if str(i) not in runs:
                why = errors.get(f, "no events")
                raise TrackerError(f"{f}: not a readable TensorBoard event file ({why}); remove it or pass the run "
                                   "folders you want (tb:'logs/run*')")
            if f in errors:
                raise TrackerError(f"{f}: corrupt TensorBoard event file ({errors[f]}); the events after the "
                                   "damage cannot be read: restore the file or move it out of the log directory")
            out[f] = runs[str(i)], _scalars(stub, pb, str(i)), hparams.get(i, {})
        return out
    finally:
        channel.close()


def _scalars(stub, pb, run: str) -> dict:
    req = pb.ReadScalarsRequest(plugin_filter=pb.PluginFilter(plugin_name="scalars"))
    req.run_tag_filter.runs.names.append(run)
    req.downsample.num_points = ALL_POINTS
    columns: dict = {}
    steps_all, walls_all = [], []
    for r in stub.ReadScalars(req).runs:
        for tag in sorted(r.tags, key=lambda t: t.tag_name):
            data = tag.data
            steps = np.array(data.step, dtype=np.int64)
            columns[tag.tag_name] = (steps, np.array(data.value, dtype=float))
            steps_all.append(steps)
            walls_all.append(np.array(data.wall_time, dtype=float))
    if columns:
        steps, walls = np.concatenate(steps_all), np.concatenate(walls_all)
        order = np.lexsort((walls, steps))  # by step, latest wall time last
        steps, walls = steps[order], walls[order]
        last = np.r_[steps[1:] != steps[:-1], True]
        columns["__wall_time__"] = steps[last], walls[last]  # a step's wall time: when its last point was logged
    return columns


def _hparams(stub, pb, files: list[Path]) -> dict[int, dict]:
    req = pb.ListTensorsRequest(plugin_filter=pb.PluginFilter(plugin_name=_HPARAMS_PLUGIN))
    out: dict[int, dict] = {}
    for r in stub.ListTensors(req).runs:
        for tag in r.tags:
            if tag.tag_name != _SESSION_START:
                continue
            from tensorboard.plugins.hparams import metadata  # imported only where a run has hparams (~0.2 s)

            f = files[int(r.run_name)]
            try:
                info = metadata.parse_session_start_info_plugin_data(tag.metadata.summary_metadata.plugin_data.content)
            except Exception as exc:  # a protobuf DecodeError or a version mismatch of the plugin data
                raise TrackerError(f"{f}: unreadable HParams plugin data ({exc})") from None
            out[int(r.run_name)] = hparam_values(info)
    return out


def hparam_values(info) -> dict:
    """A SessionStartInfo's hyperparameters as plain values (numbers, text, booleans)."""
    out = {}
    for name, value in info.hparams.items():
        kind = value.WhichOneof("kind")
        out[name] = getattr(value, kind) if kind in ("number_value", "string_value", "bool_value") else None
    return out


__all__ = ["ALL_POINTS", "binary", "hparam_values", "load"]
