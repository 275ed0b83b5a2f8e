"""Batched proxy training: aggregate tokens/s of K members trained as one model vs the same K runs one by one.

Both sides train the same K configurations (one shape, K learning rates, seeds 0..K-1) with scalefit's own
trainers in this process at one torch thread: ``train_run`` for each run in turn (the baseline, single-threaded
being its fastest on this shared CPU) and ``train_batch`` for all K at once. tokens/s counts training steps
(not evaluation, nor the first step), as the trainers do; the aggregate of K sequential runs is K x tokens / the
sum of their training times. Each comparison is repeated and the median ratio reported.

    python benchmarks/bench_batched_train.py [--json] [--quick]

Acceptance (issue 15): width 32, K = 8: batched >= 2x sequential; width 128, K = 8: >= 0.95x; K = 1 at width 32:
within 5% of the single-run trainer (ratio >= 0.95). seq 128, batch 16, depth 2 throughout.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile

import torch

CASES = (("ratio_w32_k8", 32, 8), ("ratio_w128_k8", 128, 8), ("ratio_k1", 32, 1))


def configs(width: int, k: int, steps: int, args: argparse.Namespace) -> list:
    from scalefit.proxy import TrainConfig

    lrs = [1e-3 * 1.5**i for i in range(k)]
    return [
        TrainConfig(
            corpus="pydoc",
            width=width,
            depth=2,
            n_heads=4,
            seq_len=args.seq_len,
            batch_size=args.batch_size,
            n_tokens=steps * args.batch_size * args.seq_len,
            lr=lr,
            seed=i,
            n_evals=1,
            eval_tokens=args.seq_len,
            cloze_items=0,
            device="cpu",
        )  # fmt: skip
        for i, lr in enumerate(lrs)
    ]


def aggregate(rows: list[dict]) -> float:
    """Aggregate training tokens/s of runs that trained one after another (or side by side in one batch)."""
    return sum(r["tokens_per_s"] for r in rows)


def sequential(cfgs: list) -> float:
    from scalefit.proxy.train import train_run

    with tempfile.TemporaryDirectory() as out:
        rows = [train_run(c, out) for c in cfgs]
    seconds = sum((r["steps"] - 1) * r["batch_tokens"] / r["tokens_per_s"] for r in rows)
    return sum((r["steps"] - 1) * r["batch_tokens"] for r in rows) / seconds


def batched(cfgs: list) -> float:
    from scalefit.proxy.batched import train_batch

    with tempfile.TemporaryDirectory() as out:
        return aggregate(train_batch(cfgs, out))


def measure(width: int, k: int, steps: int, repeats: int, args: argparse.Namespace) -> dict:
    cfgs = configs(width, k, steps, args)
    seq, bat = [], []
    for _ in range(repeats):  # alternate, so drifting load on shared cores hits both sides alike
        seq.append(sequential(cfgs))
        bat.append(batched(cfgs))
    ratios = [b / s for b, s in zip(bat, seq)]
    return {"width": width, "k": k, "steps": steps, "sequential_tokens_per_s": statistics.median(seq),
            "batched_tokens_per_s": statistics.median(bat), "ratio": statistics.median(ratios),
            "ratios": ratios}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=40, help="training steps per run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="10 steps, 1 repeat (a smoke test, not a measurement)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    torch.set_num_threads(1)
    steps, repeats = (10, 1) if args.quick else (args.steps, args.repeats)
    batched(configs(32, 2, 3, args))  # warm caches (corpus, kernels) before timing either side
    cases = {name: measure(width, k, steps, repeats, args) for name, width, k in CASES}
    out = {name: case["ratio"] for name, case in cases.items()}
    out.update(cases=cases, seq_len=args.seq_len, batch_size=args.batch_size, depth=2, threads=1,
               torch=torch.__version__, quick=args.quick)  # fmt: skip
    if args.json:
        print(json.dumps(out, indent=2))
        return
    for name, case in cases.items():
        print(
            f"width {case['width']:>4}, K = {case['k']:>2}: batched {case['batched_tokens_per_s']:>10,.0f} tokens/s, "
            f"sequential {case['sequential_tokens_per_s']:>10,.0f} tokens/s, ratio {case['ratio']:.2f}  ({name})"
        )


if __name__ == "__main__":
    main()
