"""Does `scalefit fit ladder` predict a held-out larger model's accuracy within its 95% interval?

Each of 50 seeded draws builds a synthetic model ladder like Bhagia et al.'s (arXiv:2412.04403): 4 sizes
(190M-1.3B parameters) x 4 token multipliers (1, 2, 5, 10 x 20 tokens per parameter), 10 checkpoints a run (5%
to 100% of its tokens); the task loss at a checkpoint is L(N, D) = E + A/N^alpha + B/D^beta of the tokens seen so
far with 0.5% multiplicative noise, its accuracy Acc(L) = 0.25 + 0.75/(1 + exp(k (L - L0))) (through the ideal
point L=0, Acc=1, as the method assumes) plus N(0, 0.01) noise. Parameters are drawn per seed around
published-looking values. The ladder (step 1 on each run's last checkpoint, step 2 on all checkpoints after the
first 10%, anchored at L=0, Acc=1, 200 bootstrap resamples of runs) predicts a 7B model trained on 4T tokens.

Success: the 95% interval of the predicted accuracy covers the target's true (noise-free) accuracy in >= 90% of
the draws (exit status 1 otherwise, on the full run). Also printed: coverage of a noisy measurement of the target
(what an evaluation would report), the coverage of the task loss, and the mean absolute accuracy error.

    python benchmarks/bench_ladder.py [--draws 50] [--bootstrap 200] [--quick] [--no-anchor] [--json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

SIZES = (1.9e8, 3.7e8, 7.6e8, 1.3e9)
MULTIPLIERS = (1, 2, 5, 10)  # x 20 tokens per parameter
CHECKPOINTS = np.linspace(0.05, 1.0, 10)  # fraction of a run's tokens at each checkpoint
TARGET = {"N": 7e9, "D": 4e12}
ACC_NOISE, LOSS_NOISE = 0.01, 0.005


def draw(seed: int) -> tuple[pd.DataFrame, dict]:
    """One synthetic ladder (a wide log: run_id, n_params, tokens, step, bpb_task, acc_task) and its truth."""
    rng = np.random.default_rng(seed)
    truth = {"E": rng.uniform(0.4, 0.7), "A": rng.uniform(300, 600), "B": rng.uniform(300, 600),
             "alpha": rng.uniform(0.3, 0.36), "beta": rng.uniform(0.26, 0.32), "k": rng.uniform(3.0, 6.0),
             "L0": rng.uniform(1.1, 1.5)}
    rows = []
    for N in SIZES:
        for m in MULTIPLIERS:
            for step, frac in enumerate(CHECKPOINTS, 1):
                D = frac * 20 * m * N
                L = task_loss(truth, N, D) * (1 + LOSS_NOISE * rng.standard_normal())
                acc = accuracy(truth, L) + ACC_NOISE * rng.standard_normal()
                rows.append({"run_id": f"{N:.2g}-{m}", "n_params": N, "tokens": D, "step": step, "bpb_task": L,
                             "acc_task": acc})
    return pd.DataFrame(rows), truth


def task_loss(t: dict, N, D):
    return t["E"] + t["A"] / N ** t["alpha"] + t["B"] / D ** t["beta"]


def accuracy(t: dict, L):
    return 0.25 + 0.75 / (1 + np.exp(t["k"] * (L - t["L0"])))


def one(seed: int, bootstrap: int, anchor: bool = True) -> dict:
    from scalefit.planning.ladder import ladder

    runs, truth = draw(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = ladder(runs, loss_cols="bpb_*", acc_cols="acc_*", bootstrap=bootstrap, seed=seed, anchor=anchor,
                     direct=False)  # the two steps alone (bench_ladder_methods.py measures the direct method)
        pred = res.predict(TARGET).iloc[0]
    L_true = task_loss(truth, TARGET["N"], TARGET["D"])
    acc_true = accuracy(truth, L_true)
    measured = acc_true + ACC_NOISE * np.random.default_rng(10_000 + seed).standard_normal()
    return {"seed": seed, "acc_true": acc_true, "acc_measured": measured, "acc_pred": pred.acc_pred,
            "acc_lower": pred.acc_lower, "acc_upper": pred.acc_upper, "L_true": L_true, "L_pred": pred.L_pred,
            "covered": bool(pred.acc_lower <= acc_true <= pred.acc_upper),
            "covered_measured": bool(pred.acc_lower <= measured <= pred.acc_upper),
            "L_covered": bool(pred.L_lower <= L_true <= pred.L_upper)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--draws", type=int, default=50)
    ap.add_argument("--bootstrap", type=int, default=200)
    ap.add_argument("--quick", action="store_true", help="3 draws, 50 resamples: a smoke test (exit 0)")
    ap.add_argument("--no-anchor", action="store_true", help="step 2 without the (L=0, Acc=1) anchor (experiments)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    draws, boot = (3, 50) if args.quick else (args.draws, args.bootstrap)
    t0 = time.perf_counter()
    cases = [one(seed, boot, not args.no_anchor) for seed in range(draws)]
    summary = {
        "draws": draws, "bootstrap": boot, "target": TARGET, "anchor": not args.no_anchor,
        "coverage": float(np.mean([c["covered"] for c in cases])),
        "coverage_measured": float(np.mean([c["covered_measured"] for c in cases])),
        "loss_coverage": float(np.mean([c["L_covered"] for c in cases])),
        "mean_abs_acc_error": float(np.mean([abs(c["acc_pred"] - c["acc_true"]) for c in cases])),
        "mean_interval_width": float(np.mean([c["acc_upper"] - c["acc_lower"] for c in cases])),
        "seconds": time.perf_counter() - t0, "cases": cases,
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for c in cases:
            print(f"seed {c['seed']:>2}: acc true {c['acc_true']:.4f}, predicted {c['acc_pred']:.4f} "
                  f"[{c['acc_lower']:.4f}, {c['acc_upper']:.4f}] {'covered' if c['covered'] else 'MISSED'}; "
                  f"L true {c['L_true']:.4f}, predicted {c['L_pred']:.4f}")
        print(f"coverage of the true accuracy: {100 * summary['coverage']:.0f}% of {draws} draws (target >= 90%); "
              f"of a noisy measurement: {100 * summary['coverage_measured']:.0f}%; of the task loss: "
              f"{100 * summary['loss_coverage']:.0f}%; mean |acc error| {summary['mean_abs_acc_error']:.4f}, "
              f"mean 95% width {summary['mean_interval_width']:.4f}; {summary['seconds']:.0f} s")
    return 0 if args.quick or summary["coverage"] >= 0.9 else 1


if __name__ == "__main__":
    sys.exit(main())
