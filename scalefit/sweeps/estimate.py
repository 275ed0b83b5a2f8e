"""Rough wall-clock estimates of proxy runs, for ``--dry-run``, ETAs and longest-first ordering.

A run costs ``steps x step_time + evaluations + fixed``, where a step takes
``max(floor, overhead + FLOPs per step / rate)``. The CPU constants approximate one idle core of the
development machine (a 2-core VM): they were read off the CPU time (not wall time, which other work on
the machine inflated) of single-thread runs of 11k-830k-parameter models, and checked against the CPU
time of the whole ``chinchilla-cpu`` sweep; expect them to be off by up to 2x on other CPUs or under load.
The CUDA constants are *assumptions*, not measurements (no GPU was available when they were set): an H100
in bf16 at 30% of its 989 TFLOP/s on the matmuls and a launch-bound floor of 3 ms + 0.3 ms per block per
step. ``rate`` overrides the FLOP/s.

A run on ``devices = d`` devices splits each step's FLOPs and its evaluations over them and adds, per step, a ring
all-reduce of the fp32 gradients (``2 (d-1)/d x 4 N`` bytes over ``link_bytes_per_s``; FSDP moves about 1.5x that:
reduce-scatter plus all-gathers) and, per run, the start of the extra processes. The link speeds are assumptions,
not measurements: gloo over loopback on CPU, NVLink-class on CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scalefit.errors import ConfigError, SweepError
from scalefit.proxy.config import TrainConfig
from scalefit.proxy.counting import flops_per_token

__all__ = ["DEVICE_MODELS", "DeviceModel", "estimate_seconds"]


@dataclass(frozen=True)
class DeviceModel:
    """Throughput model of one worker on a device."""

    rate: float  # sustained training FLOP/s of one worker (per thread on CPU)
    step_overhead_s: float  # fixed cost of one optimizer step (Python, kernel launches, optimizer)
    step_floor_per_block_s: float  # minimum step time per transformer block (launch-bound GPUs)
    run_overhead_s: float  # per run: corpus, cloze set, model build, result files
    measured: bool  # False when the constants are assumptions
    link_bytes_per_s: float = 1e9  # gradient all-reduce bandwidth between the devices of one run (assumed)
    launch_s: float = 5.0  # starting one more device process (interpreter, torch, process group; assumed)


DEVICE_MODELS = {
    "cpu": DeviceModel(
        rate=5e10, step_overhead_s=1.5e-2, step_floor_per_block_s=0.0, run_overhead_s=3.0, measured=True
    ),
    "cuda": DeviceModel(
        rate=0.3 * 989e12, step_overhead_s=3e-3, step_floor_per_block_s=3e-4, run_overhead_s=5.0, measured=False,
        link_bytes_per_s=150e9, launch_s=10.0,
    ),
}  # fmt: skip


def estimate_seconds(cfg: TrainConfig, device: str = "cpu", *, threads: int = 1, rate: float | None = None,
                     branch: bool = False) -> float:
    """Estimated wall seconds of one run (``cfg.n_tokens`` must be set) on ``device`` ("cpu" or "cuda");
    ``branch``: a cooldown branch, which trains only its cooldown (its trunk's checkpoint holds the steps before)."""
    model = DEVICE_MODELS["cuda" if device.startswith("cuda") else "cpu"]
    flops_rate = rate or (model.rate * max(threads, 1) ** 0.8 if device == "cpu" else model.rate)
    fpt = flops_per_token(cfg.model_config())
    per_step = cfg.batch_size * cfg.seq_len
    steps = max(cfg.n_tokens // per_step, 1)
    d = max(cfg.devices, 1)
    step_s = max(model.step_overhead_s + per_step * fpt / (flops_rate * d), model.step_floor_per_block_s * cfg.depth)
    if d > 1:
        from scalefit.proxy.counting import count_params

        grad_bytes = 4.0 * count_params(cfg.model_config())["n_params"] * (1.5 if cfg.shard == "fsdp" else 1.0)
        step_s += 2 * (d - 1) / d * grad_bytes / model.link_bytes_per_s
    # the trainer evaluates at about n_evals log-spaced steps (train.log_steps) and at the end
    evals = len(set(np.round(np.geomspace(1, steps, num=max(cfg.n_evals, 1))).astype(int).tolist()) | {steps})
    trained = steps
    if branch:  # the steps after its trunk's checkpoint, and (about) their share of the evaluations
        from scalefit.proxy.branches import cooldown_start

        trained = steps - cooldown_start(cfg)
        evals = max(1, round(evals * trained / steps))
    eval_s = evals * (cfg.eval_tokens * fpt / 3 / flops_rate + model.step_overhead_s * cfg.eval_tokens / per_step / 2)
    cloze_s = cfg.cloze_items * 8 * cfg.seq_len * fpt / 3 / flops_rate
    return trained * step_s + eval_s / d + cloze_s + model.run_overhead_s + (d - 1) * model.launch_s


def corpus_tokens(runs) -> dict[str, int]:
    """Training-split tokens of each byte-level corpus the runs use (for the epochs column)."""
    from scalefit.proxy.data import load_corpus

    sizes: dict[str, int] = {}
    for run in runs:
        cfg = run.config
        key = cfg.corpus
        if key not in sizes and cfg.tokenizer == "byte":
            try:
                sizes[key] = len(load_corpus(cfg.corpus, cfg.tokenizer, cfg.vocab_size).train)
            except ConfigError as exc:
                raise SweepError(f"corpus {cfg.corpus!r}: {exc}") from None
    return sizes
