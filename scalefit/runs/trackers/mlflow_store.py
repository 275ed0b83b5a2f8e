"""MLflow tracking stores (``mlflow:URI#EXPERIMENT``): each run's params and full metric histories, read with
MLflow's own client.

``URI`` is a tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ``databricks``), or a path: a database
file (``mlflow.db``) or a file-store folder (``./mlruns``). ``EXPERIMENT`` is the experiment's name or id. Runs
are listed page by page (params, run names and start times from ``MlflowClient.search_runs``). Metric histories
(every point, never the latest value only): from a sqlite store, one read per history of MLflow's own ``metrics``
table along MLflow's (run, key, step) index, through the ADBC SQLite driver, read-only, after MLflow's client has
verified the store's schema (the columns and index are checked against MLflow's ``SqlMetric`` model): the points
``MlflowClient.get_metric_history`` returns, without one Python object per point; from a file store, each metric
file parsed whole; from any other store, ``get_metric_history``. A run that was continued
(``start_run(run_id=...)``) and re-logged steps keeps the later values; several MLflow runs of one training run are
stitched with ``?stitch=config.KEY`` (``--stitch``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import StitchWarning, TrackerError
from scalefit.runs.trackers.parts import Part, wide

PAGE = 1000  # runs per search page


def parse(spec: str) -> tuple[str, str, bool]:
    """``URI#EXPERIMENT`` -> (tracking URI, experiment, whether it is a file store). Nothing is created."""
    uri, sep, experiment = spec.rpartition("#")
    if not sep or not uri or not experiment:
        raise TrackerError(f"mlflow:{spec}: expected mlflow:URI#EXPERIMENT, e.g. mlflow:sqlite:///mlflow.db#sweep "
                           "or mlflow:./mlruns#0")
    # a CLI path argument collapses "//": sqlite:///x.db reaches us as sqlite:/x.db, http://h as http:/h
    scheme, colon, body = uri.partition(":")
    scheme = scheme.lower() if colon and len(scheme) > 1 else ""
    rest = body.lstrip("/")
    if scheme in ("http", "https"):
        return f"{scheme}://{rest}", experiment, False
    if scheme == "sqlite":
        slashes = len(body) - len(rest)
        relative = slashes == 3 or (slashes < 3 and Path(rest).exists())
        return _path_uri(Path(rest) if relative else Path("/" + rest), spec), experiment, False
    if scheme == "file":
        return _path_uri(Path("/" + rest if body.startswith("/") else rest), spec), experiment, True
    if scheme or uri.startswith("databricks"):
        return uri, experiment, False  # databricks, databricks-uc, a plugin's scheme: MLflow resolves it
    return _path_uri(Path(uri), spec), experiment, Path(uri).is_dir()


def _path_uri(p: Path, spec: str) -> str:
    if not p.exists():
        raise TrackerError(f"mlflow:{spec}: no tracking store at {p} (scalefit never creates one); pass an "
                           "existing database file (mlflow.db), an mlruns folder or a tracking server URI")
    if p.is_dir():
        return str(p.resolve())
    return f"sqlite:///{p.resolve()}"


def read_parts(spec: str, client=None) -> list[Part]:
    """One part per MLflow run of the experiment; params as config, every metric point."""
    uri, experiment, file_store = parse(spec)
    with _quiet(file_store):
        if client is None:
            client = _client(uri, spec)
        exp = _experiment(client, experiment, spec)
        runs = list(_runs(client, exp.experiment_id))
        if uri.startswith("sqlite:///"):
            bulk = _sqlite_histories(uri, runs)
        else:
            bulk = _file_histories(client, Path(uri), exp.experiment_id, runs) if file_store else None
        parts = []
        for run in runs:
            histories = bulk.get(run.info.run_id, {}) if bulk is not None else _client_histories(client, run)
            if (part := _part(run, histories, uri)) is not None:
                parts.append(part)
        return parts


def _client(uri: str, spec: str):
    try:
        from mlflow.tracking import MlflowClient
    except ImportError as exc:
        raise TrackerError(f"mlflow:{spec}: reading MLflow stores needs mlflow: pip install 'scalefit[mlflow]' "
                           f"({exc})") from None
    return MlflowClient(tracking_uri=uri)


def _experiment(client, name: str, spec: str):
    from mlflow.exceptions import MlflowException

    try:
        exp = client.get_experiment_by_name(name)
        if exp is None and name.isdigit():
            exp = client.get_experiment(name)
    except MlflowException as exc:
        if name.isdigit() and "RESOURCE_DOES_NOT_EXIST" in str(getattr(exc, "error_code", "")):
            exp = None
        else:
            raise TrackerError(f"mlflow:{spec}: cannot read the tracking store ({str(exc).splitlines()[0]})") from None
    if exp is None:
        names = [e.name for e in client.search_experiments(max_results=50)]
        raise TrackerError(f"mlflow:{spec}: no experiment {name!r} in the store; experiments there: "
                           f"{', '.join(names) or 'none'}")
    return exp


def _runs(client, experiment_id: str) -> Iterator:
    token = None
    while True:
        page = client.search_runs([experiment_id], max_results=PAGE, page_token=token, order_by=["start_time ASC"])
        yield from page
        token = page.token
        if not token:
            return


def _client_histories(client, run, keys: list[str] | None = None) -> dict[str, tuple[np.ndarray, ...]]:
    """{metric: (steps, timestamps, values)} in MLflow's order, through the client (any store)."""
    out = {}
    for key in sorted(run.data.metrics) if keys is None else keys:
        history = client.get_metric_history(run.info.run_id, key)
        n = len(history)
        out[key] = (np.fromiter((m.step for m in history), np.int64, n),
                    np.fromiter((m.timestamp for m in history), np.int64, n),
                    np.fromiter((m.value for m in history), float, n))
    return out


SQL_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")  # MLflow's `metrics` table (SqlMetric)
SQL_INDEX = "index_metrics_run_uuid_key_step"  # SqlMetric's index on (run_uuid, key, step): one history, in order
_MMAP_BYTES = 1 << 30  # SQLite maps up to this much of the store file (address space only)
_QUERY = f"SELECT step, timestamp, value, is_nan FROM metrics INDEXED BY {SQL_INDEX} WHERE run_uuid = ? AND key = ?"


def _sqlite_histories(uri: str, runs: list) -> dict[str, dict] | None:
    """{run id: {metric: (steps, timestamps, values)}} from a sqlite store, one indexed query per history; None
    where the ADBC driver is missing or the table or its index is not what MLflow's model describes (then the client
    reads)."""
    try:
        from adbc_driver_sqlite import dbapi
        from mlflow.store.tracking.dbmodels.models import SqlMetric
    except ImportError:
        return None
    table = SqlMetric.__table__
    if not set(SQL_COLUMNS) <= {c.name for c in table.columns} or SQL_INDEX not in {i.name for i in table.indexes}:
        return None
    from urllib.parse import quote

    path = f"file:{quote(uri[len('sqlite:///'):])}?mode=ro"
    with dbapi.connect(path) as conn, contextlib.closing(conn.cursor()) as cur:
        cur.execute("PRAGMA table_info(metrics)")
        columns = {row[1] for row in cur.fetchall()}
        cur.execute("PRAGMA index_list(metrics)")
        if not set(SQL_COLUMNS) <= columns or SQL_INDEX not in {row[1] for row in cur.fetchall()}:
            return None
    wanted = [(run.info.run_id, key) for run in runs for key in sorted(run.data.metrics)]
    workers = max(1, min(len(wanted), os.cpu_count() or 1))
    shares = [wanted[i::workers] for i in range(workers)]  # the driver releases the GIL: one connection per core
    with ThreadPoolExecutor(max_workers=workers) as pool:
        read = list(pool.map(lambda share: _read_histories(dbapi, path, share), shares))
    out: dict[str, dict] = {run.info.run_id: {} for run in runs}
    for share, histories in zip(shares, read):
        for (run_id, key), history in zip(share, histories):
            out[run_id][key] = history
    return out


def _read_histories(dbapi, path: str, wanted: list[tuple[str, str]]) -> list[tuple[np.ndarray, ...]]:
    """The (run id, metric) histories ``wanted``, one indexed query each, on a connection of their own (the file
    memory-mapped: no copy of each page read)."""
    with dbapi.connect(path) as conn, contextlib.closing(conn.cursor()) as cur:
        cur.execute(f"PRAGMA mmap_size={_MMAP_BYTES}")
        cur.fetchall()
        out = []
        for run_id, key in wanted:
            cur.execute(_QUERY, (run_id, key))
            out.append(_history(cur.fetch_arrow_table()))
        return out


def _file_histories(client, root: Path, experiment_id: str, runs: list) -> dict[str, dict]:
    """{run id: {metric: (steps, timestamps, values)}} from a file store (``./mlruns``): each metric file (lines
    ``timestamp value step``, as MLflow's FileStore writes them) parsed whole by pandas, exactly (round-trip
    floats, ``nan``/``inf`` as MLflow writes them); a file of any other shape is read by the client."""
    out: dict[str, dict] = {}
    for run in runs:
        mine = out.setdefault(run.info.run_id, {})
        folder = root / str(experiment_id) / run.info.run_id / "metrics"
        for key in sorted(run.data.metrics):
            mine[key] = _metric_file(folder / key)
            if mine[key] is None:
                one = _client_histories(client, run, [key])
                mine[key] = one[key]
    return out


# pandas < 3.1 parses floats exactly only with float_precision="round_trip"; 3.1 made every mode exact (and
# deprecated the argument)
_PANDAS = tuple(int(x) for x in re.findall(r"\d+", pd.__version__)[:2])
_EXACT_FLOATS = {} if _PANDAS >= (3, 1) else {"float_precision": "round_trip"}


def _metric_file(f: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if not f.is_file():
        return None
    try:
        frame = pd.read_csv(f, sep=" ", header=None, names=["timestamp", "value", "step"], **_EXACT_FLOATS,
                            dtype={"timestamp": "int64", "value": "float64", "step": "Int64"})
    except (ValueError, pd.errors.ParserError):  # 2- or 5-field lines (older or dataset metrics): MLflow's rules
        return None
    if frame["step"].isna().any():
        return None
    return frame["step"].to_numpy(np.int64), frame["timestamp"].to_numpy(), frame["value"].to_numpy()


def _history(table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One metric's rows as (steps, timestamps, values) in MLflow's history order (timestamp, step, value); NaN
    where MLflow flagged it (``is_nan``)."""
    steps = table.column("step").to_numpy().astype(np.int64, copy=False)
    stamps = table.column("timestamp").to_numpy().astype(np.int64, copy=False)
    values = table.column("value").to_numpy().astype(float)
    values[table.column("is_nan").to_numpy().astype(bool)] = np.nan
    if not _ordered(stamps, steps, values):  # the index gives step order; timestamps usually agree
        order = np.lexsort((values, steps, stamps))
        steps, stamps, values = steps[order], stamps[order], values[order]
    return steps, stamps, values


def _ordered(stamps: np.ndarray, steps: np.ndarray, values: np.ndarray) -> bool:
    """Whether rows are in (timestamp, step, value) order."""
    tie = stamps[1:] == stamps[:-1]
    step_tie = steps[1:] == steps[:-1]
    fine = (stamps[1:] > stamps[:-1]) | (tie & ((steps[1:] > steps[:-1]) | (step_tie & ~(values[1:] < values[:-1]))))
    return bool(np.all(fine))


def _part(run, histories: dict, uri: str) -> Part | None:
    run_id = run.info.run_id
    where = f"{uri} run {run_id}"
    columns, stamps = {}, []
    for key, (steps, ts, values) in sorted(histories.items()):
        if not len(steps):
            continue
        order = np.argsort(ts, kind="stable")  # a continued run re-logs steps later: the latest value is last
        columns[key] = (steps[order], values[order])
        stamps.append((steps[order], ts[order]))
    if not columns:
        return None
    metrics, repeats = wide(columns, where)
    if repeats:
        warnings.warn(StitchWarning(f"{where}: {repeats} metric point(s) logged twice at the same step (a continued "
                                    "run?); kept the later ones"), stacklevel=4)
    if len(stamps) == 1 and not repeats:
        stamp = pd.Series(stamps[0][1], index=stamps[0][0])
    else:
        stamp = pd.concat([pd.Series(t, index=s) for s, t in stamps]).groupby(level=0).max()
    metrics.insert(1, "timestamp", stamp.reindex(metrics["step"]).to_numpy())
    config = {k: _number(v) for k, v in run.data.params.items()}
    start = (run.info.start_time or 0) / 1000.0
    return Part(run_id, run.info.run_name or run_id, where, start, metrics, config)


def _number(text: str) -> object:
    """MLflow stores params as text: numbers come back as numbers (so ``config.lr`` feeds ``lr``)."""
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


@contextlib.contextmanager
def _quiet(file_store: bool) -> Iterator[None]:
    """MLflow's and alembic's INFO lines off; a file store (./mlruns, in maintenance mode since MLflow 3.7) allowed
    for reading."""
    loggers = [logging.getLogger(n) for n in ("mlflow", "alembic")]
    levels = [lg.level for lg in loggers]
    old = os.environ.get("MLFLOW_ALLOW_FILE_STORE")
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    if file_store:
        os.environ["MLFLOW_ALLOW_FILE_STORE"] = "true"
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="sqlalchemy")  # MLflow's own use of deprecated SQLAlchemy
            warnings.filterwarnings("ignore", module="mlflow")
            yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
        if file_store:
            if old is None:
                os.environ.pop("MLFLOW_ALLOW_FILE_STORE", None)
            else:
                os.environ["MLFLOW_ALLOW_FILE_STORE"] = old


__all__ = ["parse", "read_parts"]
