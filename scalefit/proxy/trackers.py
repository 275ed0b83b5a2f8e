"""A proxy run logged to the trackers a team already watches (``log = "tensorboard,mlflow,wandb"``, ``--log``).

Each tracker gets the run's resolved config (with its parameter counts) once and every curve row as it is logged
(the step's tokens, lr, train and validation loss, wall time ...), and the result row when the run ends. A sweep is
one group: TensorBoard runs are folders under ``<sweep>/tensorboard/``, MLflow runs are runs of the experiment named
after the sweep in ``<sweep>/mlflow.db`` (or ``MLFLOW_TRACKING_URI``), W&B runs share the sweep's name as their
group in ``<sweep>/wandb/``, offline unless the user set ``WANDB_MODE=online`` (no network call otherwise). Each
tracker's run is named by the scalefit run id, so a resumed run continues it (W&B and TensorBoard add a part, MLflow
continues the same run) and the readers of :mod:`scalefit.runs.trackers` read the sweep back into the table
``runs.csv`` holds: ``scalefit fit chinchilla tb:runs/NAME/tensorboard --reduce last``.

Each library is imported only when its tracker is asked for (``pip install 'scalefit[tensorboard]'`` etc.).
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from scalefit.errors import ConfigError

TRACKERS = ("tensorboard", "mlflow", "wandb")
RUN_TAG = "scalefit.run_id"  # MLflow tag naming the scalefit run (a resumed run continues its MLflow run)


def parse_log(text: str) -> tuple[str, ...]:
    """``"tensorboard, wandb"`` -> ``("tensorboard", "wandb")``; unknown names are a ConfigError."""
    names = tuple(dict.fromkeys(n.strip().lower() for n in str(text or "").split(",") if n.strip()))
    bad = [n for n in names if n not in TRACKERS]
    if bad:
        raise ConfigError(f"log: unknown tracker(s) {bad}; choose from {', '.join(TRACKERS)} (comma-separated)")
    return names


class Tracking:
    """The trackers of one run: ``on_log`` for each curve row (opening them at the first), ``finish`` at the end."""

    def __init__(self, config: Any, out_dir: Path, on_log: Callable[[dict], None] | None) -> None:
        self.names = parse_log(getattr(config, "log", ""))
        self.config, self.out_dir, self.user_log = config, out_dir, on_log
        self.loggers: list = []
        self.opened = False

    def on_log(self, row: dict) -> None:
        if not self.opened:
            self._open()
        for logger in self.loggers:
            logger.log(row)
        if self.user_log is not None:
            self.user_log(row)

    def finish(self, result: dict) -> dict:
        for logger in self.loggers:
            logger.close(result, ok=result.get("status") == "ok")
        self.loggers = []
        return result

    def abort(self) -> None:
        for logger in self.loggers:
            with contextlib.suppress(Exception):
                logger.close({}, ok=False)
        self.loggers = []

    def _open(self) -> None:
        from scalefit.proxy.config import resolve, run_id
        from scalefit.proxy.counting import count_params

        self.opened = True
        cfg = resolve(self.config)
        rid = run_id(cfg)
        sweep_dir = self.out_dir / cfg.name
        config = {k: v for k, v in dataclasses.asdict(cfg).items() if k != "log"}
        config.update(count_params(cfg.model_config()), run_id=rid)
        for name in self.names:
            self.loggers.append(_OPENERS[name](sweep_dir, cfg.name, rid, config))


@contextlib.contextmanager
def tracking(config: Any, out_dir: Path, on_log: Callable[[dict], None] | None) -> Iterator[Tracking]:
    """The run's trackers around its training (trainer hook); with none asked for, ``on_log`` passes through."""
    track = Tracking(config, out_dir, on_log)
    if not track.names:
        track.on_log = on_log  # type: ignore[method-assign]  # no trackers: the caller's callback, untouched
        yield track
        return
    try:
        yield track
    except BaseException:
        track.abort()
        raise


def _numbers(row: dict) -> dict[str, float]:
    out = {}
    for k, v in row.items():
        if k == "step" or isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            continue
        out[k] = float(v)
    return out


def _plain(config: dict) -> dict:
    return {k: v for k, v in config.items() if isinstance(v, (int, float, str, bool))}


class _TensorBoard:
    def __init__(self, sweep_dir: Path, group: str, rid: str, config: dict) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams
        except ImportError as exc:
            raise ConfigError(f"log=tensorboard needs the tensorboard package: pip install 'scalefit[tensorboard]' "
                              f"({exc})") from None
        self.writer = SummaryWriter(str(sweep_dir / "tensorboard" / rid))
        exp, ssi, sei = hparams(_plain(config), {})
        for summary in (exp, ssi):
            self.writer.file_writer.add_summary(summary)
        self.end = sei

    def log(self, row: dict) -> None:
        for key, value in _numbers(row).items():
            self.writer.add_scalar(key, value, int(row["step"]))

    def close(self, result: dict, ok: bool) -> None:
        self.writer.file_writer.add_summary(self.end)
        self.writer.close()


def _quiet_sql(fn):
    """MLflow's own use of SQLAlchemy APIs that SQLAlchemy deprecates warns on its first query: not the user's
    business."""

    def wrapper(*args, **kwargs):
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module="sqlalchemy")
            warnings.filterwarnings("ignore", module="mlflow")
            return fn(*args, **kwargs)

    return wrapper


class _MLflow:
    @_quiet_sql
    def __init__(self, sweep_dir: Path, group: str, rid: str, config: dict) -> None:
        try:
            from mlflow.entities import Param
            from mlflow.tracking import MlflowClient
        except ImportError as exc:
            raise ConfigError(f"log=mlflow needs mlflow: pip install 'scalefit[mlflow]' ({exc})") from None
        uri = os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(sweep_dir / 'mlflow.db').resolve()}"
        sweep_dir.mkdir(parents=True, exist_ok=True)
        self.client = client = MlflowClient(tracking_uri=uri)
        exp = client.get_experiment_by_name(group)
        if exp is None:
            try:
                exp_id = client.create_experiment(group)
            except Exception:  # another worker of the sweep created it first
                exp_id = client.get_experiment_by_name(group).experiment_id
        else:
            exp_id = exp.experiment_id
        found = client.search_runs([exp_id], filter_string=f"tags.`{RUN_TAG}` = '{rid}'", max_results=1)
        if found:  # a resumed run: continue its MLflow run
            self.run_id = found[0].info.run_id
            client.update_run(self.run_id, status="RUNNING")
        else:
            self.run_id = client.create_run(exp_id, run_name=rid, tags={RUN_TAG: rid}).info.run_id
            params = [Param(k, str(v)[:6000]) for k, v in _plain(config).items()]
            for i in range(0, len(params), 100):
                client.log_batch(self.run_id, params=params[i:i + 100])

    @_quiet_sql
    def log(self, row: dict) -> None:
        from mlflow.entities import Metric

        now, step = int(time.time() * 1000), int(row["step"])
        self.client.log_batch(self.run_id, metrics=[Metric(k, v, now, step) for k, v in _numbers(row).items()])

    @_quiet_sql
    def close(self, result: dict, ok: bool) -> None:
        self.client.set_terminated(self.run_id, status="FINISHED" if ok else "FAILED")


class _WandB:
    def __init__(self, sweep_dir: Path, group: str, rid: str, config: dict) -> None:
        try:
            import wandb
        except ImportError as exc:
            raise ConfigError(f"log=wandb needs wandb: pip install 'scalefit[wandb]' ({exc})") from None
        mode = os.environ.get("WANDB_MODE", "offline")  # never online unless the user said so
        sweep_dir.mkdir(parents=True, exist_ok=True)
        settings = wandb.Settings(console="off", x_disable_stats=True, save_code=False, disable_git=True,
                                  silent=True)
        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "scalefit"), group=group, name=rid, id=rid,
                              resume="allow", config=config, dir=str(sweep_dir), mode=mode, settings=settings,
                              reinit="create_new")

    def log(self, row: dict) -> None:
        self.run.log(_numbers(row), step=int(row["step"]))

    def close(self, result: dict, ok: bool) -> None:
        self.run.summary.update(_numbers(result))
        self.run.finish(exit_code=0 if ok else 1)


_OPENERS = {"tensorboard": _TensorBoard, "mlflow": _MLflow, "wandb": _WandB}

__all__ = ["TRACKERS", "Tracking", "parse_log", "tracking"]
