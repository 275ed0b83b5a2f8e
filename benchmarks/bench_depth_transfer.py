"""Depth transfer, the depth table of issue 23: per depth the grid argmin of the learning rate and the best loss,
under CompleteP (``base_depth`` 2: residual branches x 2/depth, Adam's epsilon / depth multiplier) and without
depth scaling (``base_depth`` 0), from scalefit's own sweep runner.

    python benchmarks/bench_depth_transfer.py [--out DIR] [--workers N] [--json] [--save]

The ``depth-transfer-cpu`` preset: muP at its base width 64 (so only the depth rules differ from SP), depths 2, 4,
8, LRs 2^-9..2^-6, one seed, 512k tokens: 24 runs, about 12 core-minutes on this 2-core machine (runs of ~19, 27
and 41 s at depths 2, 4, 8). The sweep folder is an ordinary resumable sweep.

Acceptance (issue 23, depth): under CompleteP the best LR shifts by at most 2x across depths 2/4/8 (the ratio of the
largest to the smallest grid argmin). Without depth scaling the shift is printed beside it, as the contrast.
``--save`` writes benchmarks/results/bench_depth_transfer.json with the commit and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
PRESET = "depth-transfer-cpu"
MAX_SHIFT = 2.0  # largest / smallest argmin lr across depths, CompleteP


def analyse(runs: pd.DataFrame) -> dict:
    """Per (base_depth, depth): the grid argmin lr, whether it is at the grid's edge, the best loss; per base depth
    the argmin's shift across depths."""
    from bench_width_transfer import mean_curves

    curves = mean_curves(runs, by=("base_depth", "depth"))
    lrs = sorted(curves["lr"].unique())
    rows, shifts = [], {}
    for (base, depth), at in curves.groupby(["base_depth", "depth"]):
        best = at.loc[at["loss"].idxmin()]
        rows.append({"base_depth": int(base), "depth": int(depth), "lr_argmin": float(best["lr"]),
                     "at_edge": float(best["lr"]) in (lrs[0], lrs[-1]), "best_loss": float(best["loss"]),
                     "loss_by_lr": {f"2^{math.log2(lr):.0f}": float(v) for lr, v in zip(at["lr"], at["loss"])}})
    for base in sorted({r["base_depth"] for r in rows}):
        argmins = [r["lr_argmin"] for r in rows if r["base_depth"] == base]
        shifts[str(base)] = max(argmins) / min(argmins)
    checks = {"completep_shift_at_most_2x": shifts.get("2", math.inf) <= MAX_SHIFT}
    return {"rows": rows, "shift": shifts, "checks": checks}


def table(result: dict) -> str:
    lines = ["| scaling | depth | lr* (grid) | best loss | loss by lr |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        name = "CompleteP (base 2)" if r["base_depth"] else "none"
        edge = " (edge)" if r["at_edge"] else ""
        by_lr = ", ".join(f"{k}: {v:.3f}" for k, v in r["loss_by_lr"].items())
        lines.append(f"| {name} | {r['depth']} | 2^{math.log2(r['lr_argmin']):.0f}{edge} | {r['best_loss']:.3f} | "
                     f"{by_lr} |")
    lines.append("shift of lr* across depths: " + ", ".join(
        f"{'CompleteP' if b == '2' else 'none'} {s:g}x" for b, s in result["shift"].items()))
    lines += [f"{'met' if ok else 'NOT met'}: {name}" for name, ok in result["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="sweep folder (default: scratch/bench-depth-transfer)")
    ap.add_argument("--workers", type=int, default=None, help="worker processes (0: serial; default: cores)")
    ap.add_argument("--note", default="", help="saved with the results: where runs came from, what was special")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/bench_depth_transfer.json")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(HERE), str(HERE.parent)]  # _record, bench_width_transfer, and scalefit from this checkout
    import _record
    from bench_width_transfer import read_runs, run

    from scalefit.sweeps.executors import cpu_count
    from scalefit.sweeps.presets import get_preset

    out = args.out or HERE.parent / "scratch" / "bench-depth-transfer"
    workers = args.workers if args.workers is not None else cpu_count()
    record = _record.machine(workers=workers, note=args.note)
    sweep_dir = run(get_preset(PRESET), out, workers)
    result = {**analyse(read_runs(sweep_dir, keys=("base_depth",))), **_record.finish(record)}
    if args.save:
        from scalefit._io import write_json_atomic

        write_json_atomic(HERE / "results" / "bench_depth_transfer.json", result)
    print(json.dumps(result, indent=2) if args.json else table(result))


if __name__ == "__main__":
    main()
