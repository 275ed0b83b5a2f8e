"""muP width transfer on the defaults (issue 23's acceptance table): muP with its default init (``init_std=auto``:
a fan-in gain of 0.9 at the base width) and Tensor Programs V's 1/d attention scale, against SP, over widths 32-256.

The runs share ``lr-transfer-cpu``'s fixed settings (llama layout, ``kjv+stdlib``, base width 32, depth 2, 512k
tokens, untied), so a folder seeded with that sweep's runs (copy ``runs/lr-transfer-cpu/*/`` into OUT) trains only
what it lacks:

- muP at the defaults, LRs 2^-8..2^-5 (its argmin 2^-6 inside), widths 32-256, seeds 0 and 1, and width 512
  (a fifth width for the slope's interval: with 4 the fit's regression-t interval has 2 degrees of freedom);
- SP at the default init, seed 0: lr-transfer-cpu's 7 LRs at widths 32-128 and its per-width rule x {0.5, 1, 2}
  at 256; seed 1: the rule x {0.5, 1, 2, 4} at every width (the table averages the LRs both seeds have);
- SP's init study: 0.5x and 2x its default ``init_std`` at widths 128 and 256, the rule x {0.5, 1, 2} (2x: also
  x 4), 2 seeds.

87 runs beyond lr-transfer-cpu's (widths 256 and 512 take ~2 and ~6 min a run on one core).

    python benchmarks/width_transfer_defaults.py [--out scratch/width-transfer-defaults] [--workers 2] [--save] [--json]

Acceptance (issue 23, the mean of 2 seeds): muP's grid argmin is the same at every width; ``scalefit fit
lr-transfer`` on muP's and SP's default-init runs gives muP's slope of log2 lr* per doubling within +-0.25 and
says muP transfers and SP does not; muP's best loss falls strictly with width; muP's best loss <= SP's best over
its inits {0.5x, 1x, 2x} + 0.02 nats at widths 128 and 256 (muP at its default init: its best over inits can only
be lower); SP at its default init within 0.02 nats of its best init at width 128. ``--save`` writes
benchmarks/results/width_transfer_defaults.json with the commit and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

WIDTHS = (32, 64, 128, 256)  # SP's; muP's also 512
MUP_WIDTHS = (*WIDTHS, 512)
SEEDS = (0, 1)
MUP_LRS = [2.0**k for k in range(-8, -4)]
INIT_WIDTHS = (128, 256)
INIT_FACTORS = (0.5, 2.0)
# SP's LRs at each init factor, times its per-width rule: at 2x the best LR was the rule x 2, the top of
# {0.5, 1, 2}, at both widths (2 seeds), so one LR more brackets it
INIT_LRS = {0.5: (0.5, 1, 2), 2.0: (0.5, 1, 2, 4)}
MARGIN = 0.02  # nats: muP <= SP's best + this; SP's default init within this of its best
SLOPE_MARGIN = 0.25  # |log2 lr* per doubling of width|


def spec():
    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.presets import _LRS_CPU, PRESETS, _sp_lr
    from scalefit.sweeps.spec import parse_spec

    def rule(width: int, factors) -> list[float]:
        return [_sp_lr(width) * f for f in factors]

    grid = [{"parametrization": "mup", "width": list(MUP_WIDTHS), "depth": 2, "lr": MUP_LRS, "seed": list(SEEDS)},
            {"parametrization": "sp", "width": [32, 64, 128], "depth": 2, "lr": list(_LRS_CPU), "seed": 0},
            {"parametrization": "sp", "width": 256, "depth": 2, "lr": rule(256, (0.5, 1, 2)), "seed": 0}]
    grid += [{"parametrization": "sp", "width": w, "depth": 2, "lr": rule(w, (0.5, 1, 2, 4)), "seed": 1}
             for w in WIDTHS]
    grid += [{"parametrization": "sp", "width": w, "depth": 2, "lr": rule(w, INIT_LRS[f]), "seed": list(SEEDS),
              "init_std": f * SP_INIT_STD} for w in INIT_WIDTHS for f in INIT_FACTORS]
    return parse_spec({"name": "width-transfer-defaults", "description": "muP at the defaults against SP, widths "
                       "32-256, 2 seeds, SP's init study at 128 and 256", "fixed": PRESETS["lr-transfer-cpu"]["fixed"],
                       "grid": grid})  # fmt: skip


def analyse(out: Path) -> dict:
    """Per variant (muP, SP at 0.5x / 1x / 2x its default init) and width: the argmin LR and best loss of the seeds'
    mean (``table``) and of each seed (``by_seed``); the acceptance checks and the lr-transfer fit."""
    from bench_width_transfer import read_runs
    from mup_init_transfer import _fit, best_per_width, every_seed_lrs

    from scalefit.proxy.config import SP_INIT_STD
    from scalefit.sweeps.spec import expand

    wanted = {r.run_id for r in expand(spec())}
    runs = read_runs(out, keys=("init_std", "seed", "mup_attention"))
    runs = runs[(runs["status"] == "ok") & runs["run_id"].isin(wanted)]
    sp = runs["parametrization"] == "sp"
    variants = {"mup": runs[~sp]}
    for f in (0.5, 1.0, 2.0):
        variants[f"sp {f:g}x"] = runs[sp & (runs["init_std"] == f * SP_INIT_STD)]
    table = {k: best_per_width(v) for k, v in variants.items() if not v.empty}
    by_seed = {str(s): {k: best_per_width(v[v["seed"] == s]) for k, v in variants.items()} for s in SEEDS}
    mup, widths = table["mup"], [str(w) for w in MUP_WIDTHS]
    losses = [mup[w]["best_loss"] for w in widths if w in mup]
    sp_best = {str(w): min(table[k][str(w)]["best_loss"] for k in table if k.startswith("sp") and str(w) in table[k])
               for w in WIDTHS}
    # the fit sees what the table averages: each width's LRs that every seed trained (then it resamples whole
    # seeds: scalefit/planning/lr_transfer.py)
    fit = _fit(pd.concat([every_seed_lrs(variants["mup"]), every_seed_lrs(variants["sp 1x"])]))
    checks = {
        "mup_argmins": [mup[w]["argmin"] for w in widths if w in mup],
        "same_argmin": len({mup[w]["argmin"] for w in widths if w in mup}) == 1,
        "same_argmin_each_seed": {s: len({t["mup"][w]["argmin"] for w in t["mup"]}) == 1 for s, t in by_seed.items()},
        "slope_within": abs(fit["mup"]["slope"]) <= SLOPE_MARGIN,
        "mup_transfers": fit["mup"]["verdict"] == "transfers",
        "sp_does_not": fit["sp"]["verdict"] == "does not transfer",
        "loss_falls": len(losses) == len(MUP_WIDTHS) and all(b < a for a, b in zip(losses, losses[1:])),
        "mup_minus_sp_best": {w: round(mup[w]["best_loss"] - sp_best[w], 4) for w in widths if w in sp_best},
        "within_margin_128_256": all(mup[w]["best_loss"] - sp_best[w] <= MARGIN for w in ("128", "256")),
        "sp_default_minus_best_128": round(table["sp 1x"]["128"]["best_loss"] - sp_best["128"], 4),
    }
    checks["sp_default_within_128"] = checks["sp_default_minus_best_128"] <= MARGIN
    return {"table": table, "by_seed": by_seed, "fit": fit, "checks": checks, "margin": MARGIN,
            "slope_margin": SLOPE_MARGIN, "runs": int(len(runs)),
            "core_hours": round(float(runs["wall_s"].sum()) / 3600, 3)}


def table(result: dict) -> str:
    """The acceptance table (mean of the seeds), the fit's verdicts and each check, as text."""
    t, checks = result["table"], result["checks"]
    lines = ["| width | muP lr* | muP best | SP lr* | SP best | SP 0.5x / 2x best | muP - SP's best init |",
             "|---|---|---|---|---|---|---|"]
    for w in (str(w) for w in MUP_WIDTHS):
        mup, sp = t["mup"].get(w), t["sp 1x"].get(w)
        inits = " / ".join(f"{t[k][w]['best_loss']:.3f}" for k in ("sp 0.5x", "sp 2x") if w in t.get(k, {}))
        gap = checks["mup_minus_sp_best"].get(w)
        lines.append(" | ".join(["", w, mup["argmin"] if mup else "-", f"{mup['best_loss']:.3f}" if mup else "-",
                                 sp["argmin"] if sp else "-", f"{sp['best_loss']:.3f}" if sp else "-", inits or "-",
                                 f"{gap:+.3f}" if gap is not None else "-", ""]).strip())
    for p, s in result["fit"].items():
        lines.append(f"{p}: fit lr-transfer slope {s['slope']:+.3f} [{s['interval'][0]:+.3f}, {s['interval'][1]:+.3f}]"
                     f": {s['verdict']}")
    lines += [f"{'met' if ok else 'NOT met'}: {name}" for name, ok in checks.items() if isinstance(ok, bool)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    import _record
    from bench_width_transfer import run

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default="scratch/width-transfer-defaults", type=Path)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", action="store_true", help="write benchmarks/results/width_transfer_defaults.json")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of the table")
    args = parser.parse_args(argv)
    record = _record.machine()
    run(spec(), args.out, args.workers)
    result = {**analyse(args.out), "machine": _record.finish(record)}
    print(json.dumps({k: result[k] for k in ("table", "fit", "checks")}, indent=1) if args.json else table(result))
    if args.save:
        from scalefit._io import write_json_atomic

        write_json_atomic(HERE / "results" / "width_transfer_defaults.json", result)


if __name__ == "__main__":
    main()
