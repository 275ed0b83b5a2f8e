"""The default ``init_std`` on the default layout (issue 23): SP at width 128, depth 2, 512k tokens, byte-level
``kjv+stdlib``, 64-token context, batch 16 (the CPU presets' shape), init {0.5x, 1x, 2x} of the default times LRs
2^-11 ... 2^-7, one seed; each init's best loss over the LRs, and whether the default is within 0.02 nats of the best.
``--parametrization mup`` does the same for muP at width 128 (base width 32, as ``lr-transfer-cpu``) with init
{1x, 2x, 4x} and LRs 2^-8 ... 2^-5: how far muP's best init is from the base width's default. ``--parametrization
base`` studies the base width itself (width 32, where muP is SP bit for bit) at init {0.5x, 1x, 2x, 4x} and the same
LRs: whether the default is the base width's best init, the one muP is meant to transfer.

    python benchmarks/init_default.py [--parametrization sp|mup|base] [--out scratch/init-default] [--workers 2]
        [--save]

Runs go to OUT (resumable; finished runs are read, not trained again); ``--save`` writes
benchmarks/results/init_default.json (``init_default_mup.json``, ``init_default_base.json``). About 12-16 runs of
~40 s (width 128) or ~12 s (width 32) on one core.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WIDTH, MARGIN = 128, 0.02
FIXED = {"seq_len": 64, "batch_size": 16, "n_heads": 4, "n_evals": 5, "eval_tokens": 16384, "cloze_items": 0,
         "device": "cpu", "tokens": 512000, "width": WIDTH, "depth": 2, "parametrization": "sp"}
STUDIES = {  # parametrization -> (fixed settings, init factors, LRs)
    "sp": (FIXED, (0.5, 1.0, 2.0), [2.0**k for k in range(-11, -6)]),
    "mup": ({**FIXED, "parametrization": "mup", "base_width": 32, "tied_embeddings": False, "cloze_items": 128,
             "mup_attention": "1/sqrt(d)"},  # muP's default attention scale when this study was measured
            (1.0, 2.0, 4.0), [2.0**k for k in range(-8, -4)]),
    "base": ({**FIXED, "width": 32}, (0.5, 1.0, 2.0, 4.0), [2.0**k for k in range(-8, -4)]),
}


def spec(param: str = "sp"):
    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.spec import parse_spec

    fixed, factors, lrs = STUDIES[param]
    default = SP_INIT_STD  # the study's unit: SP's default (muP's is init_std=auto)
    width = fixed["width"]
    return parse_spec({"name": "init-default", "description": f"{param} init study on the defaults at width {width}",
                       "fixed": fixed, "grid": [{"init_std": [f * default for f in factors], "lr": lrs}]})


def analyse(out: Path, param: str = "sp") -> dict:
    from bench_width_transfer import read_runs

    from scalefit.proxy import TrainConfig
    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.spec import expand

    wanted = {r.run_id for r in expand(spec(param))}
    runs = read_runs(out)
    runs = runs[(runs["status"] == "ok") & runs["run_id"].isin(wanted)]
    default = SP_INIT_STD  # the study's unit: SP's default (muP's is init_std=auto)
    table = {f"{init:g}": {f"2^{round(math.log2(lr))}": round(float(loss), 4)
                           for lr, loss in zip(group["lr"], group["loss"])}
             for init, group in runs.sort_values("lr").groupby("init_std")}
    best = {init: min(losses.values()) for init, losses in table.items()}
    overall = min(best.values())
    return {"defaults": {"arch": TrainConfig().arch, "mlp": TrainConfig().mlp, "corpus": TrainConfig().corpus,
                         "init_std": default},
            "shape": STUDIES[param][0], "loss_by_init_and_lr": table, "best_by_init": best,
            "default_minus_best": round(best[f"{default:g}"] - overall, 4),
            "default_within_margin": bool(best[f"{default:g}"] - overall <= MARGIN), "margin": MARGIN,
            "runs": int(len(runs)), "core_hours": round(float(runs["wall_s"].sum()) / 3600, 3),
            "corpus_train_bytes": _corpus_bytes(TrainConfig().corpus), "python": platform.python_version()}


def _corpus_bytes(corpus: str) -> int:
    """Training bytes of the default corpus on this Python (its stdlib part follows the Python version)."""
    from scalefit.proxy.data import load_corpus

    return int(len(load_corpus(corpus).train))


def main(argv: list[str] | None = None) -> None:
    import _record
    from bench_width_transfer import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parametrization", choices=sorted(STUDIES), default="sp")
    parser.add_argument("--out", default="scratch/init-default", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/init_default.json")
    args = parser.parse_args(argv)
    record = _record.machine()
    run(spec(args.parametrization), args.out, args.workers)
    result = {**analyse(args.out, args.parametrization), "machine": _record.finish(record)}
    print(json.dumps({k: result[k] for k in ("loss_by_init_and_lr", "best_by_init", "default_minus_best")}, indent=1))
    if args.save:
        from scalefit._io import write_json_atomic

        name = "init_default.json" if args.parametrization == "sp" else f"init_default_{args.parametrization}.json"
        write_json_atomic(HERE / "results" / name, result)


if __name__ == "__main__":
    main()
