"""Does `select` pick the law that generated the data? The issue-13 acceptance benchmark.

Each case draws an IsoFLOP-style grid of runs (N, D; C = 6ND), evaluates one generating library law at
seeded parameters near published values with 1% log-normal noise, and splits off a test fold: the top 20% of
runs along N (even seeds) or D (odd seeds). ``select`` sees only the other 80% (its own folds extrapolate
along the same symbol) and chooses among the generating laws x {huber, mse}. A case succeeds when the winner
is the generating law, or when the winner's error on the test fold (RMSLE, fitted on the 80%) is within 10%
of the generating law's (fitted on the same rows with the default robust objective). Prints the confusion
table (generating law x chosen law) and the success rate; acceptance is >= 90% of 50 cases.

    python benchmarks/bench_select.py            # 10 seeds x 5 laws = 50 cases (minutes; --jobs to spread)
    python benchmarks/bench_select.py --quick    # 1 seed x 5 laws, 40 runs each: a smoke test (exit 0)
    python benchmarks/bench_select.py --json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor

import numpy as np

# generating law -> (law options, parameters near published values)
LAWS = {
    "chinchilla": ({}, dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)),
    "kaplan": ({}, dict(N_c=8.8e13, D_c=5.4e13, alpha_N=0.076, alpha_D=0.095)),
    "overtrain": ({}, dict(E=1.84, a=212.0, b=367.0, eta=0.136)),
    "power": ({"x": "N"}, dict(E=1.8, A=400.0, alpha=0.34)),
    "alabdulmohsin-m2": ({"x": "D"}, dict(beta=400.0, c=-0.28, eps_inf=1.8)),
}
NOISE, TEST_SHARE, TOLERANCE = 0.01, 0.2, 0.10


def make_case(name: str, seed: int, n_points: int = 60):
    """(runs DataFrame with a loss from law ``name``, the test-split symbol, the parameters used)."""
    from scalefit.laws import get_law
    from scalefit.laws.simulate import simulate
    from scalefit.runs import RunTable, resolve

    rng = np.random.default_rng(seed * 1000 + sorted(LAWS).index(name))
    options, params = LAWS[name]
    law = get_law(name, **options)
    params = {k: v * float(np.exp(0.08 * rng.normal())) for k, v in params.items()}
    grid = simulate(get_law("chinchilla"), LAWS["chinchilla"][1], n_points=n_points, noise=0.0, seed=seed)
    x = resolve(RunTable.from_frame(grid), law.inputs).values
    grid["loss"] = law(x, params) * np.exp(NOISE * rng.normal(size=len(grid)))
    grid.insert(0, "run_id", [f"{name}-{seed}-{i:02d}" for i in range(len(grid))])
    return grid, ("N" if seed % 2 == 0 else "D"), params


def _test_rmsle(law, objective: str, train, test) -> float:
    from scalefit.fitting import fit_law
    from scalefit.fitting.scores import scores
    from scalefit.fitting.select import OBJECTIVES
    from scalefit.runs import RunTable, resolve

    fitted = fit_law(law, train, **OBJECTIVES[objective])
    res = resolve(RunTable.from_frame(test), [*fitted.law_spec.inputs, "L"])
    return scores(res.values["L"], fitted.predict({s: res.values[s] for s in fitted.law_spec.inputs}))["rmsle"]


def run_case(name: str, seed: int, n_points: int = 60, options: dict | None = None) -> dict:
    """Select on the inner 80%, then score the winner and the generating law on the held-out top 20%."""
    from scalefit.fitting.select import select
    from scalefit.laws import get_law

    runs, along, _ = make_case(name, seed, n_points)
    column = {"N": "n_params", "D": "n_tokens"}[along]
    cut = float(np.quantile(runs[column], 1 - TEST_SHARE))
    train, test = runs[runs[column] <= cut], runs[runs[column] > cut]
    candidates = [(n, o) for n, (o, _) in LAWS.items()]
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sel = select(train, candidates, along=along, seed=seed, **(options or {}))
        seconds = time.perf_counter() - t0
        win = sel.winner
        gen_law = get_law(name, **LAWS[name][0])
        gen = _test_rmsle(gen_law, "huber", train, test)
        got = gen if win["law"] == name and win["objective"] == "huber" else \
            _test_rmsle(get_law(win["law"], **win["law_options"]), win["objective"], train, test)
    ok = win["law"] == name or got <= (1 + TOLERANCE) * gen
    return {"law": name, "seed": seed, "along": along, "chosen": win["law"], "objective": win["objective"],
            "test_rmsle_chosen": got, "test_rmsle_generating": gen, "success": bool(ok), "seconds": seconds}


def _run(args: tuple) -> dict:
    return run_case(*args)


def run_all(laws, seeds, n_points: int = 60, jobs: int = 1, options: dict | None = None) -> list[dict]:
    """Every (law, seed) case; ``options`` go to ``select`` (default: its defaults)."""
    cases = [(name, seed, n_points, options) for seed in seeds for name in laws]
    if jobs <= 1:
        return [run_case(*c) for c in cases]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_run, cases))


def confusion(results: list[dict]) -> str:
    names = list(LAWS)
    chosen = sorted({r["chosen"] for r in results} | set(names), key=lambda n: (n not in names, n))
    width = max(map(len, chosen)) + 2
    lines = ["generating \\ chosen".ljust(20) + "".join(c.rjust(width) for c in chosen) + "   success"]
    for g in names:
        rows = [r for r in results if r["law"] == g]
        if rows:
            lines.append(g.ljust(20) + "".join(str(sum(r["chosen"] == c for r in rows)).rjust(width) for c in chosen)
                         + f"   {sum(r['success'] for r in rows)}/{len(rows)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed x 5 laws, 40 runs each (smoke test)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds per generating law (default 10: 50 cases)")
    ap.add_argument("--jobs", type=int, default=min(4, os.cpu_count() or 1), help="worker processes")
    ap.add_argument("--json", action="store_true")
    for opt, kind in (("--folds", int), ("--fraction", float), ("--tolerance", float)):
        ap.add_argument(opt, type=kind, help=f"select's {opt[2:]} (default: select's default)")
    a = ap.parse_args(argv)
    seeds, n_points = (range(1), 40) if a.quick else (range(a.seeds), 60)
    t0 = time.perf_counter()
    options = {k: v for k in ("folds", "fraction", "tolerance") if (v := getattr(a, k)) is not None}
    results = run_all(list(LAWS), seeds, n_points, a.jobs, options)
    rate = sum(r["success"] for r in results) / len(results)
    if a.json:
        print(json.dumps({"success_rate": rate, "cases": results}, indent=2))
    else:
        print(confusion(results))
        print(f"\nsuccess: {sum(r['success'] for r in results)}/{len(results)} = {100 * rate:.1f}% "
              f"(acceptance >= 90%); {time.perf_counter() - t0:.0f} s wall, "
              f"{np.mean([r['seconds'] for r in results]):.1f} s per select")
    return 0 if a.quick or rate >= 0.9 else 1  # acceptance is judged on the full 50 cases, not the smoke


if __name__ == "__main__":
    sys.exit(main())
