"""Reading scalar points from each tracker's store vs the same rows from Parquet (issue 26).

Writes POINTS scalar points (RUNS runs x STEPS steps x 1 metric) into a TensorBoard log (torch's SummaryWriter),
an MLflow sqlite store (MlflowClient.log_batch), wandb offline runs and W&B's Parquet history-export layout
(``run-ID-history:v0/0000.parquet``, as its artifacts download; written with pandas); reads each with
``scalefit.read_runs`` in a fresh subprocess (so peak memory is that read's own), timing it (wall and CPU, the
read's servers included) and taking its peak RSS. The store's library is imported before the clock (its import
time is reported apart, as pyarrow's is for Parquet). The baseline is the very table read (the same rows and
columns: run ids, parts, the tracker's time column, config) saved as Parquet and read back with
``scalefit.read_runs``, each Parquet read right after a store read (``--repeat`` each, interleaved; the fastest
wall time and the least CPU time of each count), so the ratio holds under the shared machine's changing load.
Every store read is cold (an empty ``SCALEFIT_CACHE``); the W&B offline reader's cache is measured apart, as
``warm_cache``: a repeat read of the same logs from the Parquet the first read cached.

    nice python benchmarks/bench_trackers.py --dir /tmp/trk --save benchmarks/results/bench_trackers.json
    python benchmarks/bench_trackers.py --points 100000  # quicker (10^6 points: writing takes many minutes)
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
import importlib, json, resource, sys, time, warnings
t = time.perf_counter()
for name in sys.argv[2].split(","):  # the store's library, imported before the clock (as pyarrow is for Parquet)
    importlib.import_module(name)
imported = time.perf_counter() - t
from scalefit.runs import read_runs
def cpu():  # this process's and its waited-for children's (a data server, wandb-core) CPU seconds
    return sum(r.ru_utime + r.ru_stime for r in map(resource.getrusage, (resource.RUSAGE_SELF,
                                                                         resource.RUSAGE_CHILDREN)))
c, t = cpu(), time.perf_counter()
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    table = read_runs(sys.argv[1])
out = {"s": time.perf_counter() - t, "cpu_s": cpu() - c, "import_s": imported, "rows": len(table),
       "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
if len(sys.argv) > 3:  # the table read, as Parquet: the baseline holds the very same rows and columns
    table.frame.to_parquet(sys.argv[3], index=False)
print(json.dumps(out))
"""
LIBRARIES = {  # what each read imports from its library (timed apart: a fixed cost, not a per-point one)
    "parquet": "pyarrow.parquet",
    "tb": "grpc,tensorboard.data.proto.data_provider_pb2_grpc",
    "mlflow": "mlflow.tracking,mlflow.store.tracking.sqlalchemy_store,adbc_driver_sqlite.dbapi",
    "wandb": "wandb",
    "wandb-export": "pyarrow.parquet",
}


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


def write_wandb_export(root: Path, frame: pd.DataFrame) -> str:
    """The layout of W&B's history artifacts (``run-ID-history:v0/0000.parquet``: _step, _runtime, _timestamp and
    the metrics), as ``Api().artifact(...).download()`` leaves it; written here with pandas (no network)."""
    for run, rows in frame.groupby("run_id"):
        folder = root / f"run-{run}-history:v0"
        folder.mkdir()
        steps = rows["step"].to_numpy()
        pd.DataFrame({"_step": steps, "_runtime": steps * 0.01, "_timestamp": 1.7e9 + steps * 0.01,
                      "loss": rows["loss"].to_numpy()}).to_parquet(folder / "0000.parquet", index=False)
        (folder / "config.yaml").write_text(f"n_params:\n  value: {float(rows['n_params'].iloc[0])}\n")
    return f"wandb:{root}"


def read(ref: str, store: str, save: Path | None = None, cache: Path | None = None) -> dict:
    """One read in a fresh process; with an empty cache folder (a cold read: the W&B offline reader caches what it
    read) unless ``cache`` names one to reuse."""
    with tempfile.TemporaryDirectory(prefix="bench-cache-") as cold:
        env = {**os.environ, "SCALEFIT_CACHE": str(cache or cold)}
        cmd = [sys.executable, "-c", _READ, ref, LIBRARIES[store], *([str(save)] if save else [])]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def fastest(reads: list[dict]) -> dict:
    """The fastest read (its rows, peak memory), with the least CPU time of the reads (the CPU a read needs; the
    one a read takes grows with the machine's contention)."""
    return {**min(reads, key=lambda r: r["s"]), "cpu_s": min(r["cpu_s"] for r in reads)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=1_000_000)
    ap.add_argument("--stores", default="tb,mlflow,wandb,wandb-export")
    ap.add_argument("--repeat", type=int, default=2, help="reads of each store (and of the Parquet file after "
                    "each); the fastest counts")
    ap.add_argument("--dir", type=Path, help="keep the written stores here and reuse them on the next run")
    ap.add_argument("--save", type=Path, help="also write the results as JSON here (other stores' results already "
                    "there for the same --points are kept)")
    args = ap.parse_args()
    frame = curves(args.points)
    writers = {"tb": write_tb, "mlflow": write_mlflow, "wandb": write_wandb, "wandb-export": write_wandb_export}
    import _record

    machine = _record.machine()
    res: dict = {"commit": machine.pop("commit"), "points": args.points, "runs": RUNS, "machine": machine,
                 "stores": {}}
    with tempfile.TemporaryDirectory() as scratch:
        tmp = args.dir / str(args.points) if args.dir else Path(scratch)
        tmp.mkdir(parents=True, exist_ok=True)
        for name in args.stores.split(","):
            root = Path(tmp) / name
            done = root / ".written"
            t = time.perf_counter()
            if done.exists():
                ref = done.read_text()
            else:
                root.mkdir()
                ref = writers[name](root, frame)
                done.write_text(ref)
            wrote = time.perf_counter() - t
            same = Path(tmp) / f"same-{name}.parquet"
            with tempfile.TemporaryDirectory(prefix="bench-cache-") as cache:  # empty: the first read is cold too
                reads = [read(ref, name, same, Path(cache))]  # also writes the table it read as Parquet: the baseline
                bases = [read(str(same), "parquet")]
                for _ in range(args.repeat - 1):  # interleaved: both see the shared machine's load alike
                    reads.append(read(ref, name))
                    bases.append(read(str(same), "parquet"))
                base, got = fastest(bases), fastest(reads)
                warm = None  # W&B offline: a repeat read, from the cache the first read wrote (reported apart)
                if name == "wandb":
                    warm = fastest([read(ref, name, cache=Path(cache)) for _ in range(args.repeat)])
            ok = "every point" if got["rows"] == len(frame) else f"ROWS {got['rows']} != {len(frame)}"
            ratio, mem = got["s"] / base["s"], got["peak_mib"] / base["peak_mib"]
            cpu = got["cpu_s"] / base["cpu_s"]
            print(f"{name}: {ok}; read {got['s']:.2f} s vs Parquet {base['s']:.2f} s ({ratio:.1f}x; CPU {cpu:.1f}x; "
                  f"library import {got['import_s']:.2f} s apart), peak {got['peak_mib']:.0f} MiB ({mem:.1f}x); load "
                  f"{os.getloadavg()[0]:.1f}; written in {wrote:.0f} s", flush=True)
            res["stores"][name] = {"read_s": round(got["s"], 3), "parquet_s": round(base["s"], 3),
                                   "ratio": round(ratio, 2), "cpu_s": round(got["cpu_s"], 3),
                                   "parquet_cpu_s": round(base["cpu_s"], 3), "cpu_ratio": round(cpu, 2),
                                   "import_s": round(got["import_s"], 3),
                                   "peak_mib": round(got["peak_mib"]), "parquet_peak_mib": round(base["peak_mib"]),
                                   "memory_ratio": round(mem, 2), "rows": got["rows"], "every_point": got["rows"] ==
                                   len(frame), "load": round(os.getloadavg()[0], 2), "commit": res["commit"]}
            if warm is not None:
                res["stores"][name]["warm_cache"] = {
                    "read_s": round(warm["s"], 3), "ratio": round(warm["s"] / base["s"], 2),
                    "cpu_ratio": round(warm["cpu_s"] / base["cpu_s"], 2), "peak_mib": round(warm["peak_mib"]),
                    "rows": warm["rows"]}
                print(f"{name} (warm cache, a repeat read): {warm['s']:.2f} s ({warm['s'] / base['s']:.1f}x; CPU "
                      f"{warm['cpu_s'] / base['cpu_s']:.1f}x)", flush=True)
    _record.finish(res["machine"])
    if args.save is not None:
        if args.save.exists():  # stores measured before (same points) and not now are kept, with their commit and load
            before = json.loads(args.save.read_text())
            if before.get("points") == args.points:
                res["stores"] = {**before.get("stores", {}), **res["stores"]}
        args.save.parent.mkdir(parents=True, exist_ok=True)
        args.save.write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    main()
