"""MLflow tracking stores (``mlflow:URI#EXPERIMENT``): each run's params and full metric histories, read with
MLflow's own client.

``URI`` is a tracking URI (``sqlite:///mlflow.db``, ``http://host:5000``, ``databricks``), or a path: a database
file (``mlflow.db``) or a file-store folder (``./mlruns``). ``EXPERIMENT`` is the experiment's name or id. Runs
are listed page by page; ``MlflowClient.get_metric_history`` pages through every point of a metric (never the
latest value only). A run that was continued (``start_run(run_id=...)``) and re-logged steps keeps the later
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
        return [p for run in _runs(client, exp.experiment_id) if (p := _part(client, run, uri)) is not None]


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


def _part(client, run, uri: str) -> Part | None:
    run_id = run.info.run_id
    where = f"{uri} run {run_id}"
    columns, stamps = {}, []
    repeats = 0
    for key in sorted(run.data.metrics):
        history = client.get_metric_history(run_id, key)
        if not history:
            continue
        n = len(history)
        ts = np.fromiter((m.timestamp for m in history), np.int64, n)
        order = np.argsort(ts, kind="stable")  # a continued run re-logs steps later: the latest value is last
        steps = np.fromiter((m.step for m in history), np.int64, n)[order]
        values = np.fromiter((m.value for m in history), float, n)[order]
        columns[key] = (steps, values)
        stamps.append((steps, ts[order]))
    if not columns:
        return None
    metrics, repeats = wide(columns, where)
    if repeats:
        warnings.warn(StitchWarning(f"{where}: {repeats} metric point(s) logged twice at the same step (a continued "
                                    "run?); kept the later ones"), stacklevel=4)
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
