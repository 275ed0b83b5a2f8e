"""Several devices and exact resume on CPU (gloo), at the acceptance sizes; a JSON summary.

    python benchmarks/bench_distributed.py [--steps 200] [--kills 20] [--out benchmarks/results/distributed.json]

1. Curves: for SP and muP, DDP and FSDP2, a run on two processes against one process at the same global batch
   (8 sequences): the plain one-process run, and the one-process run accumulating two pieces of 4 (the two
   processes' split). Prints max |delta loss| over the validation curve and the training-loss curve (fp32).
2. Kill -9 from outside: a run (one or two processes, DDP or FSDP2, SP or muP, chosen at random) is started in its
   own process group and, once it trains (a new checkpoint appears), the whole group is SIGKILLed at a random
   moment, up to 3 times a run, each start resuming from the last checkpoint, until it finishes; its final loss
   and curve are compared with the uninterrupted run's.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BASE = dict(corpus="pydoc", width=64, depth=2, n_heads=2, seq_len=32, batch_size=8, base_width=32, lr=1e-3,
            n_evals=16, eval_tokens=2048, cloze_items=0, device="cpu", threads=1)  # fmt: skip
CHILD = """
import json, sys
from scalefit.proxy.config import TrainConfig
from scalefit.proxy.train import train_run
if __name__ == "__main__":
    train_run(TrainConfig(**json.loads(sys.argv[1])), sys.argv[2])
"""


def _curve(out: Path, result: dict):
    import pandas as pd

    return pd.read_csv(out / result["name"] / result["run_id"] / "curve.csv")


def _gap(a, b, column: str) -> float:
    assert a["step"].tolist() == b["step"].tolist()
    return float((a[column] - b[column]).abs().max())


def curves(steps: int, root: Path, cases: set[str] | None = None) -> list[dict]:
    from scalefit.proxy.config import TrainConfig
    from scalefit.proxy.train import train_run

    rows = []
    for par in ("sp", "mup"):
        if cases and not any(c.startswith(par) for c in cases):
            continue
        base = {**BASE, "parametrization": par, "n_tokens": steps * 8 * 32}
        plain = train_run(TrainConfig(**base), root / f"{par}-plain")
        split = train_run(TrainConfig(**base, micro_batch=4), root / f"{par}-split")
        a, b = _curve(root / f"{par}-plain", plain), _curve(root / f"{par}-split", split)
        for shard in ("ddp", "fsdp"):
            if cases and f"{par}-{shard}" not in cases:
                continue
            t0 = time.perf_counter()
            two = train_run(TrainConfig(**base, devices=2, shard=shard), root / f"{par}-{shard}")
            c = _curve(root / f"{par}-{shard}", two)
            row = {"parametrization": par, "shard": shard, "steps": steps, "final_loss": two["loss"],
                   "vs_one_process": {"loss": _gap(a, c, "loss"), "train_loss": _gap(a, c, "train_loss")},
                   "vs_one_process_split": {"loss": _gap(b, c, "loss"), "train_loss": _gap(b, c, "train_loss")},
                   "two_process_s": time.perf_counter() - t0}  # fmt: skip
            print(json.dumps(row), flush=True)
            rows.append(row)
    return rows


def _progressed(proc: subprocess.Popen, ckpt: Path) -> bool:
    """Wait until the run writes a new checkpoint (it trains); False when it ended first."""
    before = ckpt.stat().st_mtime_ns if ckpt.exists() else None
    while proc.poll() is None:
        if ckpt.exists() and ckpt.stat().st_mtime_ns != before:
            return True
        time.sleep(0.05)
    return False


def kill_loop(kills: int, seed: int, root: Path, per_chain: int = 3) -> list[dict]:
    import numpy as np

    from scalefit.proxy.config import TrainConfig, run_id
    from scalefit.proxy.train import train_run

    rng = np.random.default_rng(seed)
    chains, done_kills = [], 0
    while done_kills < kills:
        devices = int(rng.choice([1, 2]))
        overrides = {"devices": devices, "shard": str(rng.choice(["ddp", "fsdp"])),
                     "parametrization": str(rng.choice(["sp", "mup"])), "n_tokens": 60 * 8 * 32,
                     "checkpoint_every": int(rng.integers(1, 4)), "deterministic": True}  # fmt: skip
        cfg = TrainConfig(**{**BASE, **overrides})
        out = root / f"chain{len(chains)}"
        ref = train_run(cfg, root / f"ref{len(chains)}")
        run_dir = out / cfg.name / run_id(cfg)
        n = 0
        while not (run_dir / "result.json").exists():
            proc = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(cfg.to_dict()), str(out)], cwd=REPO,
                                    start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if n < per_chain and _progressed(proc, run_dir / "checkpoint.pt"):
                time.sleep(float(rng.uniform(0.0, 1.0)))  # a random moment of training (a step, maybe a save)
                os.killpg(proc.pid, signal.SIGKILL)  # kill -9 of the run's whole process group
                n += 1
            proc.wait()
        got = json.loads((run_dir / "result.json").read_text())
        a, b = _curve(root / f"ref{len(chains)}", ref), _curve(out, got)
        row = {**{k: overrides[k] for k in ("devices", "shard", "parametrization", "checkpoint_every")},
               "kills": n, "loss_gap": abs(got["loss"] - ref["loss"]), "curve_gap": _gap(a, b, "loss"),
               "steps_once": b["step"].is_unique and b["step"].tolist() == a["step"].tolist()}  # fmt: skip
        print(json.dumps(row), flush=True)
        chains.append(row)
        done_kills += n
    return chains


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-curves", action="store_true")
    parser.add_argument("--cases", nargs="*", help="curve cases to run, e.g. sp-ddp mup-fsdp (default: all four)")
    parser.add_argument("--lr", type=float, default=BASE["lr"],
                        help="peak learning rate of every run (1e-3; at 3e-3 the SP curves turn chaotic and fp32 "
                             "rounding differences grow to several 1e-4 in 200 steps)")  # fmt: skip
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "distributed.json"))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    BASE["lr"] = args.lr
    with tempfile.TemporaryDirectory() as tmp:
        summary = {
            "curves": [] if args.skip_curves else curves(args.steps, Path(tmp), set(args.cases or ())),
            "kill_loop": kill_loop(args.kills, args.seed, Path(tmp)) if args.kills else [],
        }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1))
    worst = max((r["vs_one_process_split"]["loss"] for r in summary["curves"]), default=0.0)
    resumed = all(c["loss_gap"] <= 1e-6 and c["steps_once"] for c in summary["kill_loop"])
    print(f"worst |delta loss| vs one process (same split): {worst:.3g}; resumed runs exact: {resumed}")
    return 0 if worst <= 1e-5 and resumed else 1


if __name__ == "__main__":
    raise SystemExit(main())
