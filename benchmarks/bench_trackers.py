"""Reading scalar points from each tracker's store vs the same rows from Parquet (issue 26).

Writes POINTS scalar points (RUNS runs x STEPS steps x 1 metric) into a TensorBoard log (torch's SummaryWriter),
an MLflow sqlite store (MlflowClient.log_batch) and wandb offline runs, and the same rows as Parquet; then reads
each with ``scalefit.read_runs`` in a fresh subprocess (so peak memory is that read's own), timing it and taking
its peak RSS. Prints one line per store with the ratios to Parquet, measured in this same invocation.

    nice python benchmarks/bench_trackers.py            # 10^6 points (writing takes minutes)
    python benchmarks/bench_trackers.py --points 100000  # quicker
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RUNS = 10

_READ = """
import json, resource, sys, time, warnings
from scalefit.runs import read_runs
t = time.perf_counter()  # the read itself: the tracker library's import (inside it) counts, scalefit's does not
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    table = read_runs(sys.argv[1])
print(json.dumps({"s": time.perf_counter() - t, "rows": len(table),
                  "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def curves(points: int) -> pd.DataFrame:
    steps = points // RUNS
    rng = np.random.default_rng(0)
    return pd.concat([pd.DataFrame({"run_id": f"r{i}", "step": np.arange(steps), "n_params": 1e6 * (i + 1),
                                    "loss": 2 + rng.random(steps)}) for i in range(RUNS)], ignore_index=True)


def write_tb(root: Path, frame: pd.DataFrame) -> str:
    from torch.utils.tensorboard import SummaryWriter

    for run, rows in frame.groupby("run_id"):
        w = SummaryWriter(str(root / run), max_queue=10_000, flush_secs=600)
        for s, v in zip(rows["step"].tolist(), rows["loss"].tolist()):
            w.add_scalar("loss", v, s)
        w.close()
    return f"tb:{root}"


def write_mlflow(root: Path, frame: pd.DataFrame) -> str:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")
    exp = client.create_experiment("bench")
    for run, rows in frame.groupby("run_id"):
        rid = client.create_run(exp, run_name=run).info.run_id
        client.log_batch(rid, params=[Param("n_params", str(rows["n_params"].iloc[0]))])
        ms = [Metric("loss", v, 0, s) for s, v in zip(rows["step"].tolist(), rows["loss"].tolist())]
        for i in range(0, len(ms), 1000):
            client.log_batch(rid, metrics=ms[i:i + 1000])
    return f"mlflow:sqlite:///{root / 'mlflow.db'}#bench"


def write_wandb(root: Path, frame: pd.DataFrame) -> str:
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true")
    import wandb

    settings = wandb.Settings(console="off", x_disable_stats=True, save_code=False, disable_git=True, silent=True)
    for run, rows in frame.groupby("run_id"):
        r = wandb.init(project="bench", name=run, id=run, config={"n_params": float(rows["n_params"].iloc[0])},
                       dir=str(root), mode="offline", settings=settings, reinit="create_new")
        for s, v in zip(rows["step"].tolist(), rows["loss"].tolist()):
            r.log({"loss": v}, step=s)
        r.finish()
    return f"wandb:{root}"


def read(ref: str) -> dict:
    out = subprocess.run([sys.executable, "-c", _READ, ref], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--stores", default="tb,mlflow,wandb")
    args = ap.parse_args()
    frame = curves(args.points)
    writers = {"tb": write_tb, "mlflow": write_mlflow, "wandb": write_wandb}
    with tempfile.TemporaryDirectory() as tmp:
        pq = Path(tmp) / "same.parquet"
        frame.to_parquet(pq, index=False)
        base = read(str(pq))
        print(f"parquet: {base['rows']} rows in {base['s']:.2f} s, peak {base['peak_mib']:.0f} MiB")
        for name in args.stores.split(","):
            root = Path(tmp) / name
            root.mkdir()
            t = time.perf_counter()
            ref = writers[name](root, frame)
            wrote = time.perf_counter() - t
            got = read(ref)
            ok = "every point" if got["rows"] == len(frame) else f"ROWS {got['rows']} != {len(frame)}"
            print(f"{name}: {ok}; read {got['s']:.2f} s ({got['s'] / base['s']:.1f}x parquet), peak "
                  f"{got['peak_mib']:.0f} MiB ({got['peak_mib'] / base['peak_mib']:.1f}x); written in {wrote:.0f} s")


if __name__ == "__main__":
    main()
