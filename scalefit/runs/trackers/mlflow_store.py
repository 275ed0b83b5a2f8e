"""MLflow tracking stores (``mlflow:URI#EXPERIMENT``): each run's params and full metric histories, read with
MLflow's own client.

``URI`` is a tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ``databricks``), or a path: a database
file (``mlflow.db``) or a file-store folder (``./mlruns``). ``EXPERIMENT`` is the experiment's name or id. Runs
are listed page by page (params, run names and start times from ``MlflowClient.search_runs``). Metric histories
(every point, never the latest value only): from a sqlite store, one read per metric of MLflow's own ``metrics``
table (through the ADBC SQLite driver, read-only, after MLflow's client has verified the store's schema; the
columns are checked against MLflow's ``SqlMetric`` model), the same points ``MlflowClient.get_metric_history``
returns without building one Python object per point; from any other store, ``get_metric_history``. A run that was
continued (``start_run(run_id=...)``) and re-logged steps keeps the later
values; several MLflow runs of one training run are stitched with ``?stitch=config.KEY`` (``--stitch``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Iterator
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
        keys = sorted({k for run in runs for k in run.data.metrics})
        bulk = _sqlite_histories(uri, exp.experiment_id, keys) if uri.startswith("sqlite:///") else None
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


def _client_histories(client, run) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """{metric: (steps, timestamps, values)} in MLflow's order, through the client (any store)."""
    out = {}
    for key in sorted(run.data.metrics):
        history = client.get_metric_history(run.info.run_id, key)
        n = len(history)
        out[key] = (np.fromiter((m.step for m in history), np.int64, n),
                    np.fromiter((m.timestamp for m in history), np.int64, n),
                    np.fromiter((m.value for m in history), float, n))
    return out


SQL_COLUMNS = ("run_uuid", "key", "step", "timestamp", "value", "is_nan")  # MLflow's `metrics` table (SqlMetric)


def _sqlite_histories(uri: str, experiment_id: str, keys: list[str]) -> dict[str, dict] | None:
    """{run id: {metric: (steps, timestamps, values)}} for an experiment of a sqlite store, one query per metric;
    None where the ADBC driver is missing or the table is not the one MLflow's model describes (then the client
    reads)."""
    try:
        from adbc_driver_sqlite import dbapi
        from mlflow.store.tracking.dbmodels.models import SqlMetric
    except ImportError:
        return None
    if not set(SQL_COLUMNS) <= {c.name for c in SqlMetric.__table__.columns}:
        return None
    from urllib.parse import quote

    path = uri[len("sqlite:///"):]
    query = ("SELECT run_uuid, step, timestamp, value, is_nan FROM metrics WHERE key = ? AND run_uuid IN "
             "(SELECT run_uuid FROM runs WHERE experiment_id = ?)")
    exp = int(experiment_id) if str(experiment_id).isdigit() else experiment_id
    out: dict[str, dict] = {}
    with dbapi.connect(f"file:{quote(path)}?mode=ro") as conn:
        cur = conn.cursor()
        cur.execute("PRAGMA table_info(metrics)")
        if not set(SQL_COLUMNS) <= {row[1] for row in cur.fetchall()}:
            return None
        for key in keys:
            cur.execute(query, (key, exp))
            _split(cur.fetch_arrow_table(), key, out)
        cur.close()
    return out


def _split(table, key: str, out: dict) -> None:
    """One metric's rows of all runs into ``out[run][key] = (steps, timestamps, values)``, each run's points in
    MLflow's history order (timestamp, step, value); NaN where MLflow flagged it (``is_nan``)."""
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return
    runs = pc.dictionary_encode(table.column("run_uuid")).combine_chunks()
    codes = runs.indices.to_numpy(zero_copy_only=False)
    steps = table.column("step").to_numpy().astype(np.int64, copy=False)
    stamps = table.column("timestamp").to_numpy().astype(np.int64, copy=False)
    values = table.column("value").to_numpy().astype(float)
    values[table.column("is_nan").to_numpy().astype(bool)] = np.nan
    order = np.argsort(codes, kind="stable")  # by run; MLflow's primary-key index already orders the rows by
    if not _ordered(codes[order], stamps[order], steps[order], values[order]):  # (timestamp, step, value)
        order = np.lexsort((values, steps, stamps, codes))
    bounds = np.flatnonzero(np.diff(codes[order])) + 1
    for chunk in np.split(order, bounds):
        run = runs.dictionary[int(codes[chunk[0]])].as_py()
        out.setdefault(run, {})[key] = steps[chunk], stamps[chunk], values[chunk]


def _ordered(codes: np.ndarray, stamps: np.ndarray, steps: np.ndarray, values: np.ndarray) -> bool:
    """Whether rows grouped by ``codes`` are in (timestamp, step, value) order within each group."""
    same = codes[1:] == codes[:-1]
    later = stamps[1:] > stamps[:-1]
    tie = stamps[1:] == stamps[:-1]
    step_later = steps[1:] > steps[:-1]
    step_tie = steps[1:] == steps[:-1]
    fine = later | (tie & (step_later | (step_tie & ~(values[1:] < values[:-1]))))
    return bool(np.all(fine | ~same))


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
