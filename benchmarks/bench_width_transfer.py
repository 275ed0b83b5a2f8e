"""muP width transfer, the acceptance table of issue 23: per width SP and muP optimal LR and best loss, the lr* slope,
and the init study ({0.5x, 1x, 2x} the default ``init_std``), from scalefit's own sweep runner and lr-transfer fit.

Stage 1 is the ``width-transfer-cpu`` preset (SP and muP, base width 32, 7 LRs, widths 32-256, muP also 512, 2 seeds),
run by ``scalefit.sweeps.runner.run_sweep`` into ``OUT/lr`` and fitted by ``scalefit fit lr-transfer`` (the
procedure the CLI calls). Stage 2 trains each parametrization at ``init_std`` x 0.5 and x 2 at the widths of the
init study, at 3 LRs around stage 1's argmin at that width (its lr / 2, lr, 2 lr), into ``OUT/init``; 1x is stage
1. Both folders are ordinary resumable sweeps: an interrupted benchmark picks up where it stopped.

    python benchmarks/bench_width_transfer.py [--quick] [--out DIR] [--workers N] [--json] [--save]

``--quick`` (this 2-core machine): widths 32, 64, 128, seed 0, LRs 2^-9..2^-4, init study at width 128 only,
48 runs, about 22 core-minutes at one thread on an idle core (runs of 11, 18 and 40 s at widths 32, 64, 128). The
full mode is the acceptance sweep: 124 + 48 runs plus the edge LRs (180 at 0541a4c: 3.90 core-hours on this CPU;
give it ``--workers`` and time). ``--workers 0`` trains one run after another in this process at one torch thread.
A sweep folder that already holds some of these runs (same run ids, e.g. copied from ``runs/lr-transfer-cpu``,
whose SP runs at width 128 are the init study's 0.5x runs: the preset's init_std is 0.04, theirs the default 0.02)
skips them.

Acceptance (issue 23, muP with the defaults): the grid argmin of lr is the same at every width and the fitted slope
of log2 lr* per doubling is within +-0.25; muP's best loss falls strictly with width; muP's best loss (best init)
<= SP's best (best init) + 0.02 nats at widths 128 and 256; the fit says muP transfers and SP does not; SP at the
default init within 0.02 nats of its best init at width 128. ``--save`` writes benchmarks/results/
bench_width_transfer[_quick].json with the commit and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
PRESET = "width-transfer-cpu"
QUICK = {"width": [32, 64, 128], "seed": [0], "lr": [2.0**k for k in range(-9, -3)], "init_widths": [128]}
FULL = {"init_widths": [128, 256]}
INIT_FACTORS = (0.5, 2.0)
MARGIN_NATS = 0.02  # muP best <= SP best + this, and SP's default init within this of its best
SLOPE_MARGIN = 0.25  # |slope of log2 lr* per doubling of width|


def _narrow(grid: dict, quick: dict) -> dict | None:
    """A preset grid cut to the quick widths (``width`` or ``shape`` entries), seeds and LRs; None if none is left."""
    grid = {**grid, **{k: quick[k] for k in ("seed", "lr")}}
    if "shape" in grid:
        grid["shape"] = [s for s in grid["shape"] if s[0] in quick["width"]]
        return grid if grid["shape"] else None
    widths = grid["width"] if isinstance(grid["width"], list) else [grid["width"]]
    grid["width"] = [w for w in widths if w in quick["width"]]
    return grid if grid["width"] else None


def lr_spec(quick: bool, seeds: list[int] | None = None):
    """Stage 1: the preset, narrowed to the quick grid with --quick (its seeds ``seeds``, default seed 0)."""
    from scalefit.sweeps.presets import PRESETS
    from scalefit.sweeps.spec import parse_spec

    preset = PRESETS[PRESET]
    grids = [dict(g) for g in preset["grid"]]
    if quick:
        quick_grid = {**QUICK, "seed": seeds or QUICK["seed"]}
        grids = [g for g in (_narrow(g, quick_grid) for g in grids) if g is not None]
    return parse_spec({"name": PRESET, "description": preset["description"], "fixed": preset["fixed"],
                       "grid": grids}, source=f"preset:{PRESET}" + (" (quick)" if quick else ""))


def default_init() -> float:
    from scalefit.proxy import TrainConfig
    from scalefit.sweeps.presets import PRESETS

    return float(PRESETS[PRESET]["fixed"].get("init_std", TrainConfig().init_std))


SHAPE_KEYS = ("width", "depth", "n_heads", "base_n_heads")  # what a stage-2 run copies from its stage-1 runs


def init_spec(lr_runs: pd.DataFrame, lr_dir: Path, widths: list[int]):
    """Stage 2: init_std x 0.5 and x 2 at 3 LRs around each (parametrization, width)'s stage-1 argmin, in the shape
    (depth, heads, base heads) of that width's stage-1 runs."""
    from scalefit.sweeps.presets import PRESETS
    from scalefit.sweeps.spec import parse_spec

    preset = PRESETS[PRESET]
    seeds = sorted(int(s) for s in lr_runs["seed"].unique())
    inits = [default_init() * f for f in INIT_FACTORS]
    grids = []
    order = sorted(best_lrs(lr_runs).items(), key=lambda item: (item[0][0] != "sp", item[0][1]))  # SP first:
    for (param, width), argmin in order:  # its init study decides two criteria (SP's default init; its best)
        if width in widths:
            grids.append({"parametrization": param, **_shape(lr_runs, lr_dir, param, width), "seed": seeds,
                          "init_std": inits, "lr": [argmin / 2, argmin, argmin * 2]})
    return parse_spec({"name": "width-transfer-init", "description": "init study", "fixed": preset["fixed"],
                       "grid": grids}, source="bench_width_transfer:init")


def _shape(lr_runs: pd.DataFrame, lr_dir: Path, param: str, width: int) -> dict:
    """The shape (depth, heads, base heads) of the stage-1 runs of (parametrization, width)."""
    from scalefit.proxy import TrainConfig

    rid = lr_runs[(lr_runs["parametrization"] == param) & (lr_runs["width"] == width)]["run_id"].iloc[0]
    config = json.loads((lr_dir / rid / "config.json").read_text())  # older runs lack the later keys
    return {k: config.get(k, getattr(TrainConfig(), k)) for k in SHAPE_KEYS}


def edge_spec(runs: pd.DataFrame, lr_dir: Path, widths: list[int], round_: int):
    """Stage 3: one LR beyond the edge for each (parametrization, width, init) of the init study whose best LR is
    the smallest or largest it trained (so every init's best is bracketed, not cut off); None when all are."""
    from scalefit.sweeps.presets import PRESETS
    from scalefit.sweeps.spec import parse_spec

    lr_runs = runs[runs["run_id"].isin(pd.read_csv(lr_dir / "runs.csv")["run_id"])]
    seeds = sorted(int(s) for s in lr_runs["seed"].unique())
    grids = []
    for (param, width, init), c in mean_curves(runs).groupby(["parametrization", "width", "init_std"]):
        best, lo, hi = float(c.loc[c["loss"].idxmin(), "lr"]), float(c["lr"].min()), float(c["lr"].max())
        if int(width) in widths and best in (lo, hi):
            grids.append({"parametrization": param, **_shape(lr_runs, lr_dir, param, int(width)), "seed": seeds,
                          "init_std": float(init), "lr": best / 2 if best == lo else best * 2})
    if not grids:
        return None
    return parse_spec({"name": f"width-transfer-edge{round_}", "description": "LRs beyond an init's edge",
                       "fixed": PRESETS[PRESET]["fixed"], "grid": grids}, source=f"bench_width_transfer:edge{round_}")


def mean_curves(runs: pd.DataFrame, by: tuple[str, ...] = ("parametrization", "width", "init_std")) -> pd.DataFrame:
    """Loss averaged over seeds per (``by``..., lr); a diverged or failed run counts as inf."""
    loss = pd.to_numeric(runs["loss"], errors="coerce").where(runs["status"] == "ok", np.inf).fillna(np.inf)
    frame = runs.assign(loss=loss)
    return frame.groupby([*by, "lr"], as_index=False)["loss"].mean()


def best_lrs(runs: pd.DataFrame) -> dict[tuple[str, int], float]:
    curves = mean_curves(runs)
    out = {}
    for (param, width), cw in curves.groupby(["parametrization", "width"]):
        out[(str(param), int(width))] = float(cw.loc[cw["loss"].idxmin(), "lr"])
    return out


def runs_lrs(runs: pd.DataFrame, param: str, width: int, init: float) -> tuple[float, float]:
    """The smallest and largest LR trained at (parametrization, width, init_std)."""
    lrs = runs[(runs["parametrization"] == param) & (runs["width"] == width) & (runs["init_std"] == init)]["lr"]
    return float(lrs.min()), float(lrs.max())


def read_all(sweep_dirs: list[Path]) -> pd.DataFrame:
    """The runs of several sweep folders (stage 1, the init study, its edge LRs) as one table."""
    return pd.concat([read_runs(d) for d in sweep_dirs], ignore_index=True)


def read_runs(sweep_dir: Path, keys: tuple[str, ...] = ("init_std",)) -> pd.DataFrame:
    """runs.csv with each run's config ``keys`` (from its config.json: runs.csv has no init_std column, say)."""
    runs = pd.read_csv(sweep_dir / "runs.csv")
    configs = [json.loads((sweep_dir / rid / "config.json").read_text()) for rid in runs["run_id"]]
    for key in keys:
        runs[key] = [c[key] for c in configs]
    return runs


def run(spec, out: Path, workers: int) -> Path:
    from scalefit.proxy.config import init_std_of
    from scalefit.sweeps.executors import LocalExecutor, SerialExecutor
    from scalefit.sweeps.runner import run_sweep

    executor = SerialExecutor(threads=1, batch_runs=1) if workers == 0 else LocalExecutor(workers=workers,
                                                                                           device="cpu")
    done = [0]

    def progress(event) -> None:
        if event.kind == "plan":
            print(f"{out.name}: {event.data['todo']} runs to train, {event.data['skipped']} done already "
                  f"(~{event.data['estimate_s'] / 60:.0f} min estimated)", file=sys.stderr, flush=True)
        elif event.kind == "done":
            done[0] += 1
            c, row = event.run.config, event.data
            print(f"  [{done[0]}] {c.parametrization} w{c.width} lr 2^{math.log2(c.lr):.0f} init {init_std_of(c):g} "
                  f"seed {c.seed}: loss {row.get('loss')} ({row.get('status')}, {row.get('wall_s') or 0:.0f} s)",
                  file=sys.stderr, flush=True)

    summary = run_sweep(spec, out, executor=executor, on_event=progress, add_runs=True)  # a grown grid adds runs
    return summary.sweep_dir


def analyse(lr_dir: Path, init_dirs: list[Path], init_widths: list[int]) -> dict:
    """The acceptance table and checks from the sweep folders (stage 1, and the init study's)."""
    import scalefit

    fit = scalefit.fit("lr-transfer", lr_dir / "runs.csv", bootstrap=1000, seed=0)
    runs = read_all([lr_dir, *init_dirs])
    curves = mean_curves(runs)
    d0 = default_init()
    per_init = curves.groupby(["parametrization", "width", "init_std"])["loss"].min()
    rows = []
    fits = {p: {int(w["width"]): w for w in fit.params[p]["widths"]} for p in ("sp", "mup")}
    for width in sorted(fits["mup"]):
        mup = fits["mup"][width]
        row = {"width": width, "mup_lr_argmin": mup["lr_argmin"], "mup_lr_opt": mup["lr_opt"],
               "mup_best": mup["best_loss"]}
        if width in fits["sp"]:  # muP alone at a width added for the slope's interval (512)
            sp = fits["sp"][width]
            row.update({"sp_lr_argmin": sp["lr_argmin"], "sp_lr_opt": sp["lr_opt"], "sp_best": sp["best_loss"],
                        "mup_minus_sp": mup["best_loss"] - sp["best_loss"]})
        if width in init_widths and init_dirs:
            for p in ("sp", "mup"):
                by_init = {float(k): float(v) for k, v in per_init.loc[p, width].items()}
                best_init = min(by_init, key=by_init.get)
                row[f"{p}_by_init"] = {f"{k / d0:g}x": v for k, v in sorted(by_init.items())}
                at = curves[(curves["parametrization"] == p) & (curves["width"] == width)]
                at = at.loc[at.groupby("init_std")["loss"].idxmin()]  # each init's best lr; at the edge of the LRs
                row[f"{p}_by_init_lr"] = {f"{k / d0:g}x": float(lr) for k, lr in zip(at["init_std"], at["lr"])}
                row[f"{p}_by_init_at_edge"] = [f"{k / d0:g}x" for k, lr in zip(at["init_std"], at["lr"])  # it trained
                                               if lr in runs_lrs(runs, p, width, k)]  # at, the optimum may lie beyond
                row[f"{p}_best_init"] = f"{best_init / d0:g}x"
                row[f"{p}_best_any_init"] = by_init[best_init]
            row["mup_minus_sp_best_init"] = row["mup_best_any_init"] - row["sp_best_any_init"]
        rows.append(row)
    mup_fit, sp_fit = fit.params["mup"], fit.params["sp"]
    mup_best = [r["mup_best"] for r in rows]
    checks = {
        "mup_same_argmin": len({r["mup_lr_argmin"] for r in rows}) == 1,
        "mup_slope_within_0.25": abs(mup_fit["slope"]) <= SLOPE_MARGIN,
        "mup_best_falls_with_width": all(b < a for a, b in zip(mup_best, mup_best[1:])),
        "fit_says_mup_transfers": mup_fit.get("verdict") == "transfers",
        "fit_says_sp_does_not": sp_fit.get("verdict") == "does not transfer",
    }
    for r in rows:
        if "mup_minus_sp_best_init" in r:
            checks[f"mup_within_0.02_of_sp_w{r['width']}"] = r["mup_minus_sp_best_init"] <= MARGIN_NATS
            checks[f"sp_default_init_within_0.02_w{r['width']}"] = (
                r["sp_by_init"]["1x"] - r["sp_best_any_init"] <= MARGIN_NATS)
    cost = {"runs": len(runs), "core_hours": float(pd.to_numeric(runs["wall_s"], errors="coerce").sum() / 3600)}
    return {"rows": rows, "checks": checks, "default_init_std": d0, "cost": cost,
            "slope": {p: {k: fit.params[p].get(k) for k in ("slope", "slope_interval", "verdict")}
                      for p in ("sp", "mup")},
            "fit_report": fit.report()}


def table(result: dict) -> str:
    lines = ["| width | SP lr* | SP best | muP lr* | muP best | muP - SP | SP by init 0.5x/1x/2x (its lr*) | "
             "muP by init 0.5x/1x/2x (its lr*) | muP - SP, best inits |", "|---|---|---|---|---|---|---|---|---|"]
    def inits(r: dict, p: str) -> str:
        if f"{p}_by_init" not in r:
            return "-"
        edge = r[f"{p}_by_init_at_edge"]
        return " / ".join(f"{v:.3f} (2^{math.log2(r[f'{p}_by_init_lr'][k]):.0f}{', edge' if k in edge else ''})"
                          for k, v in r[f"{p}_by_init"].items())

    for r in result["rows"]:
        best = f"{r['mup_minus_sp_best_init']:+.3f}" if "mup_minus_sp_best_init" in r else "-"
        sp = (f"2^{math.log2(r['sp_lr_argmin']):.0f} | {r['sp_best']:.3f}" if "sp_best" in r else "- | -")
        diff = f"{r['mup_minus_sp']:+.3f}" if "mup_minus_sp" in r else "-"
        lines.append(f"| {r['width']} | {sp} | 2^{math.log2(r['mup_lr_argmin']):.0f} | {r['mup_best']:.3f} | "
                     f"{diff} | {inits(r, 'sp')} | {inits(r, 'mup')} | {best} |")
    for p in ("sp", "mup"):
        s = result["slope"][p]
        iv = "[{:+.2f}, {:+.2f}]".format(*s["slope_interval"]) if s.get("slope_interval") else "-"
        lines.append(f"{p}: slope of log2 lr* per doubling {s['slope']:+.3f} {iv}: {s['verdict']}")
    lines += [f"{'met' if ok else 'NOT met'}: {name}" for name, ok in result["checks"].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="widths 32-128, one seed, 6 LRs, init study at 128")
    ap.add_argument("--out", type=Path, default=None,
                    help="sweep folders (default: scratch/bench-width-transfer[-quick])")
    ap.add_argument("--workers", type=int, default=None,
                    help="worker processes (0: serial; default 0 quick, else cores)")
    ap.add_argument("--seeds", default=None, help="with --quick: the seeds, e.g. 0,1 (default 0; results file "
                    "bench_width_transfer_quick_seeds_0_1.json)")
    ap.add_argument("--no-init", action="store_true", help="stage 1 only (no init study)")
    ap.add_argument("--note", default="", help="saved with the results: where runs came from, what was special")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--save", action="store_true", help="write benchmarks/results/bench_width_transfer[_quick].json")
    args = ap.parse_args(argv)
    sys.path[:0] = [str(HERE), str(HERE.parent)]  # _record, and scalefit from this checkout
    import _record

    from scalefit.sweeps.executors import cpu_count

    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else None
    if seeds and not args.quick:
        ap.error("--seeds narrows the quick grid; the full mode runs the preset's seeds")
    suffix = ("-quick" if args.quick else "") + ("-seeds-" + "-".join(map(str, seeds)) if seeds else "")
    out = args.out or HERE.parent / "scratch" / f"bench-width-transfer{suffix}"
    workers = args.workers if args.workers is not None else (0 if args.quick else cpu_count())
    init_widths = QUICK["init_widths"] if args.quick else FULL["init_widths"]
    record = _record.machine(mode="quick" if args.quick else "full", workers=workers, note=args.note)
    lr_dir = run(lr_spec(args.quick, seeds), out / "lr", workers)
    init_dirs = []
    if not args.no_init:
        init_dirs.append(run(init_spec(read_runs(lr_dir), lr_dir, init_widths), out / "init", workers))
        for round_ in (1, 2):  # an init whose best LR is at its edge gets the next LR, at most twice
            spec = edge_spec(read_all([lr_dir, *init_dirs]), lr_dir, init_widths, round_)
            if spec is None:
                break
            init_dirs.append(run(spec, out / f"edge{round_}", workers))
    result = {**analyse(lr_dir, init_dirs, init_widths if init_dirs else []), **_record.finish(record)}
    text = table(result)
    if args.save:
        from scalefit._io import write_json_atomic

        path = HERE / "results" / f"bench_width_transfer{suffix.replace('-', '_')}.json"
        write_json_atomic(path, {k: v for k, v in result.items() if k != "fit_report"})
    print(json.dumps(result, indent=2) if args.json else result["fit_report"] + "\n\n" + text)


if __name__ == "__main__":
    main()
