"""Speed of the Chinchilla fit: scalefit's batched multi-start search vs a naive per-start L-BFGS-B loop.

    python benchmarks/bench_fit.py [--subset 45] [--data PATH]

Measured in one invocation, on the Epoch/Chinchilla data (../shared/data) with the Epoch protocol:
1. scalefit's full 4,500-start fit (in process), 2. the naive baseline: scipy.optimize.minimize
(method="L-BFGS-B", numerical gradient, as in a notebook) on the same objective from a fixed subset of
the same starts, scaled per start, 3. the whole `scalefit fit` command including process start-up,
4. 1,000 bootstrap resamples. Targets (issue 2): >= 100x faster per start with the same optimum;
the command under 5 s; the bootstrap under 60 s on a 2-core machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import huber, logsumexp

import scalefit
from scalefit.laws import get_law
from scalefit.runs import filter_rows, read_runs, resolve

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SCALEFIT_SHARED_DATA", REPO.parent / "shared" / "data"))
DEFAULT_DATA = SHARED / "chinchilla" / "svg_extracted_data.csv"
WHERE = "loss < 3.44"  # drops the 5 highest-loss points (Epoch protocol)
MAP = {"N": "Model Size", "C": "Training FLOP"}


def naive_objective(log_n, log_d, log_l):
    """Epoch's notebook objective: sum of Huber(1e-3) on LSE(a - alpha log N, b - beta log D, e) - log L."""

    def f(t):
        e, a, b, alpha, beta = t
        pred = logsumexp([a - alpha * log_n, b - beta * log_d, np.full_like(log_n, e)], axis=0)
        return float(np.sum(huber(1e-3, pred - log_l)))

    return f


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--subset", type=int, default=45, help="baseline starts (every k-th of the 4,500-point grid)")
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    args = ap.parse_args()
    if not args.data.exists():
        print(f"reference data {args.data} not found; nothing to benchmark")
        return 0
    table = filter_rows(read_runs(args.data), WHERE, mapping=MAP)
    v = resolve(table, ["N", "D", "L"], mapping=MAP).values

    t0 = time.perf_counter()
    res = scalefit.fit("chinchilla", table, mapping=MAP)
    t_fit = time.perf_counter() - t0
    n_starts = res.search["n_starts"]

    law = get_law("chinchilla")
    grid = law.start_grid()
    idx = np.linspace(0, len(grid) - 1, args.subset).round().astype(int)
    # baseline parameters in Epoch's (e, a, b, alpha, beta) form
    starts = np.column_stack([np.log(grid[idx, 0]), np.log(grid[idx, 1]), np.log(grid[idx, 2]), grid[idx, 3:]])
    f = naive_objective(np.log(v["N"]), np.log(v["D"]), np.log(v["L"]))
    t0 = time.perf_counter()
    base = [minimize(f, s, method="L-BFGS-B") for s in starts]
    t_base = time.perf_counter() - t0
    best_base = min(base, key=lambda r: r.fun)

    from scalefit.fitting.bootstrap import bootstrap_fits
    from scalefit.fitting.objective import Problem

    problem = Problem(law, {"N": v["N"], "D": v["D"]}, v["L"])
    theta = problem.to_fit(np.array([[res.params[k] for k in law.param_names]]))
    t0 = time.perf_counter()
    bootstrap_fits(problem, theta, 1000, seed=0)
    t_boot = time.perf_counter() - t0

    cmd = [sys.executable, "-m", "scalefit.cli", "fit", "chinchilla", str(args.data), "--where", WHERE]
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    t_cli = time.perf_counter() - t0

    per_start_ours = t_fit / n_starts
    per_start_base = t_base / len(starts)
    print(f"data: {args.data} ({len(v['L'])} rows), cores: {os.cpu_count()}")
    print(f"scalefit full fit: {n_starts} starts in {t_fit:.2f} s = {1e3 * per_start_ours:.3f} ms/start; "
          f"objective {res.stats['objective']:.7g}; {res.search['n_reached']} starts reached it")
    print(f"naive L-BFGS-B:    {len(starts)} starts in {t_base:.2f} s = {1e3 * per_start_base:.1f} ms/start; "
          f"best objective {best_base.fun:.7g}")
    print(f"speed-up per start: {per_start_base / per_start_ours:.0f}x  (target >= 100x)")
    print(f"naive full grid would take ~{per_start_base * n_starts:.0f} s")
    same = abs(best_base.fun - res.stats["objective"]) <= 1e-6 * res.stats["objective"]
    print(f"same optimum as the baseline's best: {same}")
    print(f"`scalefit fit chinchilla` command incl. process start-up: {t_cli:.2f} s  (target < 5 s)")
    print(f"1,000 bootstrap resamples: {t_boot:.2f} s  (target < 60 s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
