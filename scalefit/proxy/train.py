"""One proxy training run: ``train_run(config, out_dir) -> result row``.

AdamW (fused on CUDA) with per-group learning rates (muP), a schedule from ``schedules.py``, gradient
clipping, bf16 autocast and optional ``torch.compile`` on CUDA. tokens/s counts training steps only
(not evaluation, and not the first step, which holds compilation and warm-up). The validation loss is
measured at log-spaced steps and at the end; a run whose training loss turns NaN/inf or exceeds
``diverge_factor`` x its first loss stops with status ``diverged`` and keeps the curve so far.

Outputs, each written atomically, in ``<out_dir>/<name>/<run_id>/``:
``config.json`` (resolved config), ``curve.csv`` (step, tokens, lr, train_loss, loss, wall_s) and
``result.json`` (the run-log row; see ``RESULT_COLUMNS``).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalefit._io import write_csv_atomic, write_json_atomic
from scalefit.errors import ConfigError, TrainingError
from scalefit.proxy.cloze import build_cloze, err_cloze
from scalefit.proxy.config import TrainConfig, resolve, run_id
from scalefit.proxy.counting import count_params, flops_per_token
from scalefit.proxy.data import bits_per_byte, check_fits, eval_windows, load_corpus, sample_batch
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.mup import param_groups
from scalefit.schedules import lr_multiplier, phase_steps

__all__ = ["RESULT_COLUMNS", "log_steps", "pick_device", "train_run"]

# Canonical run-log columns (DESIGN.md), in order; result.json holds these and a few more.
RESULT_COLUMNS = (
    "run_id", "n_params", "n_params_nonembed", "n_tokens", "flops", "loss", "lr", "batch_size", "width",
    "depth", "parametrization", "schedule", "seed", "err_cloze", "tokens_per_s", "wall_s", "status",
)  # fmt: skip

# Dense bf16 peak FLOP/s of known accelerators (vendor data sheets), matched against the device name.
PEAK_BF16_FLOPS = (("H100 PCIe", 756e12), ("H100", 989.4e12), ("H200", 989.4e12), ("A100", 312e12))
SYNC_EVERY = 8  # steps between host syncs for the divergence check


def pick_device(name: str) -> torch.device:
    """``auto`` → cuda when available, else cpu; ``cuda`` without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device=cuda but no CUDA GPU is available; use --device cpu or auto")
    return torch.device(name)


def log_steps(total: int, n: int) -> list[int]:
    """About ``n`` log-spaced step counts in [1, total], always including ``total``."""
    steps = np.unique(np.round(np.geomspace(1, total, num=max(n, 1))).astype(int))
    return sorted(set(steps.tolist()) | {total})


def _peak_flops(cfg: TrainConfig, device: torch.device, bf16: bool) -> float | None:
    if cfg.peak_flops > 0:
        return cfg.peak_flops
    if device.type != "cuda" or not bf16:
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in PEAK_BF16_FLOPS if key in name), None)


@torch.no_grad()
def evaluate(model: torch.nn.Module, windows: torch.Tensor, batch: int, autocast: Any) -> float:
    """Mean validation cross-entropy (nats/token) over fixed windows."""
    model.eval()
    total = torch.zeros((), device=windows.device, dtype=torch.float64)
    for i in range(0, len(windows), batch):
        w = windows[i : i + batch]
        with autocast():
            logits = model(w[:, :-1])
        total += lm_loss(logits, w[:, 1:])[1].double() * len(w)
    model.train()
    return float(total.item() / len(windows))


def _finite_or_none(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(x) else float(x)


def train_run(
    config: TrainConfig, out_dir: str | Path = "runs", *, on_log: Callable[[dict], None] | None = None
) -> dict[str, Any]:
    """Train one proxy run and write its files; returns the result row (also saved as result.json).

    ``config`` is resolved first (``n_tokens`` from ``tokens_per_param`` when 0); the run directory is
    ``out_dir/config.name/run_id(config)``. ``on_log`` is called with each curve row as it is logged.
    Raises ConfigError for bad settings (before any training); a diverging run is not an error.
    """
    threads = torch.get_num_threads()
    if config.threads > 0:
        torch.set_num_threads(config.threads)
    try:
        return _train(config, Path(out_dir), on_log)
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, out_dir: Path, on_log: Callable[[dict], None] | None) -> dict[str, Any]:
    t_start = time.perf_counter()
    cfg = resolve(config)
    rid = run_id(cfg)
    run_dir = out_dir / cfg.name / rid
    device = pick_device(cfg.device)
    bf16 = cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and device.type == "cuda")

    corpus = load_corpus(cfg.corpus, cfg.tokenizer, cfg.vocab_size)
    check_fits(corpus, cfg.seq_len)
    cloze = build_cloze(corpus.val, cfg.cloze_items, cfg.seq_len) if cfg.cloze_items > 0 else None
    mcfg = cfg.model_config()
    model = GPT(mcfg, seed=cfg.seed).to(device)
    counts = count_params(mcfg)
    real = sum(p.numel() for p in model.parameters())
    if real != counts["n_params"]:  # guards counting.py against model changes
        raise TrainingError(f"parameter count mismatch: model has {real}, counting.py says {counts['n_params']}")
    write_json_atomic(run_dir / "config.json", {"run_id": rid, **cfg.to_dict(), "device_resolved": str(device)})

    fused = device.type == "cuda"
    opt = torch.optim.AdamW(
        param_groups(model, mcfg, cfg.lr, cfg.weight_decay), betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=fused
    )
    fwd = torch.compile(model) if cfg.compile else model
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    per_step = cfg.batch_size * cfg.seq_len
    total = cfg.n_tokens // per_step
    warmup, decay = phase_steps(total, cfg.warmup_frac, cfg.decay_frac)
    logs = set(log_steps(total, cfg.n_evals))
    windows = torch.as_tensor(eval_windows(corpus.val, cfg.seq_len, cfg.eval_tokens), device=device)
    rng = np.random.default_rng(cfg.seed)

    curve: list[dict[str, Any]] = []
    status, message = "ok", ""
    first_loss: float | None = None
    window_sum = torch.zeros((), device=device)
    log_sum, log_n, since_sync = 0.0, 0, 0
    train_time, first_step_time, lr_now, step = 0.0, 0.0, cfg.lr, 0
    t0 = time.perf_counter()
    for step in range(1, total + 1):
        mult = lr_multiplier(
            step - 1, total=total, schedule=cfg.schedule, warmup=warmup, min_ratio=cfg.min_lr_ratio, decay=decay
        )
        lr_now = cfg.lr * mult
        for group in opt.param_groups:
            group["lr"] = lr_now * group["lr_mult"]
        batch = torch.from_numpy(sample_batch(corpus.train, cfg.batch_size, cfg.seq_len, rng)).to(device)
        with autocast():
            logits = fwd(batch[:, :-1])
        objective, ce = lm_loss(logits, batch[:, 1:], cfg.z_loss)
        objective.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        window_sum += ce.detach()
        since_sync += 1
        if step == 1 or step in logs or since_sync == SYNC_EVERY:
            window = window_sum.item()
            window_sum.zero_()
            if first_loss is None:
                first_loss = window
            log_sum, log_n = log_sum + window, log_n + since_sync
            mean = window / since_sync
            since_sync = 0
            if not math.isfinite(mean) or mean > cfg.diverge_factor * first_loss:
                status = "diverged"
                message = f"training loss {mean:.4g} at step {step} (first loss {first_loss:.4g})"
        if step in logs or status == "diverged":
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            elapsed = time.perf_counter() - t0
            if step == 1:
                first_step_time = elapsed  # compilation and warm-up: left out of tokens/s unless alone
            else:
                train_time += elapsed
            val = evaluate(model, windows, 2 * cfg.batch_size, autocast) if status == "ok" else float("nan")
            row = {
                "step": step,
                "tokens": step * per_step,
                "lr": lr_now,
                "train_loss": log_sum / max(log_n, 1),
                "loss": val,
                "wall_s": time.perf_counter() - t_start,
            }
            curve.append(row)
            if on_log is not None:
                on_log(row)
            log_sum, log_n = 0.0, 0
            t0 = time.perf_counter()
        if status == "diverged":
            break

    n_tokens = step * per_step
    final = curve[-1]["loss"] if status == "ok" else float("nan")
    err = float("nan")
    if status == "ok" and cloze is not None:
        err = err_cloze(model, cloze, device)
    timed_tokens, timed = (n_tokens - per_step, train_time) if step > 1 else (per_step, first_step_time)
    tokens_per_s = timed_tokens / timed if timed > 0 else float("nan")
    fpt = flops_per_token(mcfg)
    peak = _peak_flops(cfg, device, bf16)
    result = {
        "run_id": rid,
        "n_params": counts["n_params"],
        "n_params_nonembed": counts["n_params_nonembed"],
        "n_tokens": n_tokens,
        "flops": float(fpt) * n_tokens,
        "loss": _finite_or_none(final),
        "lr": cfg.lr,
        "batch_size": cfg.batch_size,
        "width": cfg.width,
        "depth": cfg.depth,
        "parametrization": cfg.parametrization,
        "schedule": cfg.schedule,
        "seed": cfg.seed,
        "err_cloze": _finite_or_none(err),
        "tokens_per_s": _finite_or_none(tokens_per_s),
        "wall_s": time.perf_counter() - t_start,
        "status": status,
        "name": cfg.name,
        "bits_per_byte": _finite_or_none(bits_per_byte(final, corpus)) if status == "ok" else None,
        "train_loss": _finite_or_none(curve[-1]["train_loss"]) if curve else None,
        "batch_tokens": per_step,
        "seq_len": cfg.seq_len,
        "n_heads": cfg.n_heads,
        "steps": step,
        "tokens_per_param": n_tokens / counts["n_params"],
        "flops_per_token": fpt,
        "mfu": _finite_or_none(fpt * tokens_per_s / peak) if peak else None,
        "device": str(device),
        "message": message,
    }
    write_csv_atomic(run_dir / "curve.csv", _frame(curve))
    write_json_atomic(run_dir / "result.json", result)
    return result


def _frame(curve: list[dict[str, Any]]):
    import pandas as pd

    return pd.DataFrame(curve, columns=["step", "tokens", "lr", "train_loss", "loss", "wall_s"])
