"""Does muP transfer from the base width when its base init is near unit fan-in gain? (issue 23, one seed)

On the defaults (llama layout, ``kjv+stdlib``, base width 32, ``lr-transfer-cpu``'s shape: depth 2, 512k tokens,
untied) muP at the default ``init_std`` 0.04 stops improving at width 128, and at width 128 it wants 4x that init
(``init_default.py --parametrization mup``), while the base width is nearly indifferent between 0.04 and 0.16
(``--parametrization base``). 0.16 at width 32 is a fan-in gain of 0.16 x sqrt(32) = 0.9, close to the unit
scaling of u-muP (Blake et al. 2024), and muP keeps that gain at every width. This study trains muP at 1x and 4x the
default init and SP at its default over widths 32-256 and compares, per width, the argmin LR and the best loss;
and muP at 4x with Tensor Programs V's 1/d attention scale (seed 0), the variant whose LR does not drift.

    python benchmarks/mup_init_transfer.py [--out scratch/mup-init-transfer] [--workers 2] [--seeds 0,1] [--save]

The runs share ``lr-transfer-cpu``'s fixed settings, so a folder seeded with that sweep's runs (copy
``runs/lr-transfer-cpu/*/`` into OUT) trains only what is missing: muP 4x at widths 32-256, muP 1x and SP at 256
(about 23 runs; width 256 takes ~2 min a run on one core). ``--seeds 0,1`` adds seed 1 (32 runs: muP at 4x,
SP at 4 LRs a width) and reports the seeds' mean loss. ``--save`` writes benchmarks/results/mup_init_transfer.json
(``mup_init_transfer_seeds.json`` with several seeds).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WIDTHS = (32, 64, 128, 256)
MUP_LRS = [2.0**k for k in range(-8, -4)]  # 2^-8 ... 2^-5: muP's argmin at widths 32-128 lies inside
FACTORS = (1.0, 4.0)  # muP's init, times the default
MARGIN = 0.02  # muP best <= SP best + this (issue 23)
FORMER_ATTENTION = "1/sqrt(d)"  # muP's default attention scale when this was measured; "1/d" is keyed "mup 4x 1/d"


def _sp_lrs(width: int) -> list[float]:
    """SP's grid: lr-transfer-cpu's 7 LRs where that sweep has the width, else 3 around its per-width rule."""
    from scalefit.sweeps.presets import _LRS_CPU, _sp_lr

    return list(_LRS_CPU) if width <= 128 else [_sp_lr(width) * f for f in (0.5, 1.0, 2.0)]


def spec(seeds: tuple[int, ...] = (0,)):
    """Seed 0: muP at each init factor and SP over the grids above; each further seed: muP at 4x and SP at 4 LRs
    from its per-width rule (x0.5 ... x4), around the argmins seed 0 found."""
    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.presets import PRESETS, _sp_lr
    from scalefit.sweeps.spec import parse_spec

    default = SP_INIT_STD  # the study's unit (muP's own default is now init_std=auto)
    grid = [{"parametrization": "mup", "width": list(WIDTHS), "depth": 2, "lr": MUP_LRS,
             "init_std": [f * default for f in FACTORS], "mup_attention": FORMER_ATTENTION}]
    grid += [{"parametrization": "sp", "width": w, "depth": 2, "lr": _sp_lrs(w)} for w in WIDTHS]
    grid += [{"parametrization": "mup", "width": list(WIDTHS), "depth": 2, "lr": MUP_LRS,  # Tensor Programs V's
              "init_std": FACTORS[-1] * default, "mup_attention": "1/d"}]  # attention scale at 4x, seed 0
    more = [s for s in seeds if s != 0]
    if more:
        grid += [{"parametrization": "mup", "width": list(WIDTHS), "depth": 2, "lr": MUP_LRS,
                  "init_std": FACTORS[-1] * default, "mup_attention": FORMER_ATTENTION, "seed": more}]
        grid += [{"parametrization": "sp", "width": w, "depth": 2, "lr": [_sp_lr(w) * f for f in (0.5, 1, 2, 4)],
                  "seed": more} for w in WIDTHS]
    return parse_spec({"name": "mup-init-transfer", "description": "muP at 1x and 4x the default init against SP, "
                       "widths 32-256", "fixed": PRESETS["lr-transfer-cpu"]["fixed"], "grid": grid})  # fmt: skip


def analyse(out: Path, seeds: tuple[int, ...] = (0,)) -> dict:
    """Per (parametrization, init) and width: the argmin LR and best loss of the seeds' mean loss, over the LRs
    every seed trained (``table``); with several seeds also each seed's own (``by_seed``)."""
    from bench_width_transfer import read_runs

    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.spec import expand

    wanted = {r.run_id for r in expand(spec(seeds))}
    runs = read_runs(out, keys=("init_std", "seed", "mup_attention"))
    runs = runs[(runs["status"] == "ok") & runs["run_id"].isin(wanted)]
    default = SP_INIT_STD  # the study's unit (muP's own default is now init_std=auto)
    result = {"table": _table(runs, default)}
    if len(seeds) > 1:
        result["by_seed"] = {str(s): _table(runs[runs["seed"] == s], default) for s in seeds}
    table = result["table"]
    sp = table.get("sp 1x", {})
    checks = {}
    for key in (k for k in table if k.startswith("mup")):
        rows = table[key]
        widths = sorted(rows, key=int)
        losses = [rows[w]["best_loss"] for w in widths]
        checks[key] = {
            "argmins": [rows[w]["argmin"] for w in widths],
            "same_argmin": len({rows[w]["argmin"] for w in widths}) == 1,
            "loss_falls": all(b < a for a, b in zip(losses, losses[1:])),
            "minus_sp": {w: round(rows[w]["best_loss"] - sp[w]["best_loss"], 4) for w in widths if w in sp},
            "within_margin_128_256": all(rows[w]["best_loss"] - sp[w]["best_loss"] <= MARGIN
                                         for w in ("128", "256") if w in rows and w in sp),
        }
    for key, group in _variants(runs, default).items():  # `scalefit fit lr-transfer` on SP and this muP variant
        if key in checks:
            checks[key]["fit"] = _fit(pd.concat([runs[runs["parametrization"] == "sp"], group]))
    return {"default_init": default, "factors": list(FACTORS), "widths": list(WIDTHS), **result,
            "checks": checks, "margin": MARGIN, "runs": int(len(runs)),
            "core_hours": round(float(runs["wall_s"].sum()) / 3600, 3), "seeds": list(seeds)}


def _fit(runs) -> dict:
    """The lr-transfer fit's slope, reported interval and verdict per parametrization, as the CLI gives them."""
    import shlex
    import tempfile

    from readme_numbers import cli

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "runs.csv"
        runs.to_csv(path, index=False)
        params = cli(f"fit lr-transfer {shlex.quote(str(path))}")["params"]
    return {p: {"slope": round(params[p]["slope"], 3), "interval": [round(x, 3) for x in params[p]["slope_interval"]],
                "verdict": params[p]["verdict"]} for p in ("sp", "mup")}


def _variants(runs, default: float) -> dict:
    """The runs of each (parametrization, init, attention), keyed "mup 4x", "mup 4x 1/d", "sp 1x"."""
    out = {}
    for (param, init, attention), group in runs.groupby(["parametrization", "init_std", "mup_attention"]):
        variant = "" if param == "sp" or attention == FORMER_ATTENTION else f" {attention}"
        out[f"{param} {init / default:g}x{variant}"] = group
    return out


def _table(runs, default: float) -> dict:
    """(parametrization Nx) -> width -> argmin and best loss of the mean over seeds (LRs every seed has)."""
    return {key: best_per_width(group) for key, group in _variants(runs, default).items()}


def every_seed_lrs(group):
    """The runs of one variant at the (width, lr) cells every seed of that width trained."""
    n_seeds = group.groupby("width")["seed"].transform("nunique")
    return group[group.groupby(["width", "lr"])["seed"].transform("nunique") == n_seeds]


def best_per_width(group) -> dict:
    """Width -> the argmin LR and best loss of one variant's runs, the loss averaged over seeds at the LRs every
    seed trained (an LR only some seeds trained is left out), with the LR range and whether the argmin is at its
    edge."""
    rows = {}
    group = every_seed_lrs(group)
    n_seeds = group.groupby("width")["seed"].nunique()
    for width, at in group.groupby("width"):
        per_lr = at.groupby("lr").agg(loss=("loss", "mean")).reset_index()
        best = per_lr.loc[per_lr["loss"].idxmin()]
        rows[str(int(width))] = {"argmin": f"2^{math.log2(best['lr']):g}", "best_loss": round(float(best["loss"]), 4),
                                 "lrs": f"2^{math.log2(per_lr['lr'].min()):g}..2^{math.log2(per_lr['lr'].max()):g}",
                                 "at_grid_edge": bool(best["lr"] in (per_lr["lr"].min(), per_lr["lr"].max())),
                                 "seeds": int(n_seeds[width])}
    return rows


def main(argv: list[str] | None = None) -> None:
    import _record
    from bench_width_transfer import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="scratch/mup-init-transfer", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seeds", default="0", help="e.g. 0,1: further seeds train muP at 4x and SP at 4 LRs")
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/mup_init_transfer.json")
    args = parser.parse_args(argv)
    record = _record.machine()
    seeds = tuple(int(s) for s in args.seeds.split(","))
    run(spec(seeds), args.out, args.workers)
    result = {**analyse(args.out, seeds), "machine": _record.finish(record)}
    print(json.dumps({k: result[k] for k in ("table", "checks")}, indent=1))
    if args.save:
        from scalefit._io import write_json_atomic

        name = "mup_init_transfer.json" if seeds == (0,) else "mup_init_transfer_seeds.json"
        write_json_atomic(HERE / "results" / name, result)


if __name__ == "__main__":
    main()
