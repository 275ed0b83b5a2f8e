"""One proxy training run: ``train_run(config, out_dir) -> result row``.

AdamW (fused on CUDA) with per-group learning rates (muP), a schedule from ``schedules.py``, gradient
clipping, bf16 autocast and optional ``torch.compile`` on CUDA. tokens/s counts training steps only
(not evaluation, and not the first step, which holds compilation and warm-up). The validation loss is
measured at log-spaced steps and at the end; a run whose training loss turns NaN/inf or exceeds
``diverge_factor`` x its first loss stops with status ``diverged`` and keeps the curve so far.

Outputs, each written atomically, in ``<out_dir>/<name>/<run_id>/``:
``config.json`` (resolved config), ``curve.csv`` (step, tokens, lr, train_loss, loss, wall_s, and with the
cloze set on, the checkpoint's ``loss_cloze`` and ``acc_cloze`` from ``cloze.cloze_metrics``) and
``result.json`` (the run-log row; see ``RESULT_COLUMNS``).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalefit._io import write_csv_atomic, write_json_atomic
from scalefit.errors import ConfigError, TrainingError
from scalefit.proxy.cloze import ClozeSet, build_cloze, cloze_metrics, err_cloze
from scalefit.proxy.config import ModelConfig, TrainConfig, resolve, run_id
from scalefit.proxy.counting import count_params, flops_per_token
from scalefit.proxy.data import Corpus, bits_per_byte, check_fits, eval_windows, load_corpus, sample_batch
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.monitor import Clock, TrainLoss
from scalefit.proxy.mup import param_groups
from scalefit.proxy.trackers import tracking
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
CLOZE_CURVE_COLUMNS = ("loss_cloze", "acc_cloze")  # per-checkpoint downstream columns of curve.csv (cloze on)


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
        with tracking(config, Path(out_dir), on_log) as log:  # --log tensorboard|mlflow|wandb
            return log.finish(_train(config, Path(out_dir), log.on_log))
    finally:
        torch.set_num_threads(threads)


def _train(config: TrainConfig, out_dir: Path, on_log: Callable[[dict], None] | None) -> dict[str, Any]:
    """Build, run the steps (logging and checking as they go), summarise; helpers follow in that order."""
    clock = Clock()
    run = _build(resolve(config), out_dir)
    cfg, model, opt = run.cfg, run.model, run.opt
    train_loss = TrainLoss(run.device, cfg.diverge_factor)
    curve: list[dict[str, Any]] = []
    diverged = ""  # why training stopped early; empty while the run is healthy
    clock.resume()
    for step in range(1, run.total + 1):
        batch = _get_batch(run)
        lr = _lr_at(run, step)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_mult"]  # muP scales some groups' learning rates
        with run.autocast():
            logits = run.fwd(batch[:, :-1])
        objective, ce = lm_loss(logits, batch[:, 1:], cfg.z_loss)
        objective.backward()
        if cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
        opt.step()
        opt.zero_grad(set_to_none=True)
        train_loss.add(ce)

        # divergence check: reading the loss back is a host sync, so only at log steps and every SYNC_EVERY steps
        if step == 1 or step in run.log_at or train_loss.pending == SYNC_EVERY:
            diverged = train_loss.check(step)
        if step in run.log_at or diverged:
            clock.pause(step, run.device)
            row = _curve_row(run, step, lr, train_loss.pop_mean(), clock, evaluate_now=not diverged)
            curve.append(row)
            if on_log is not None:
                on_log(row)
            clock.resume()
        if diverged:
            break

    result = _summarise(run, curve, step, diverged, clock)
    write_csv_atomic(run.run_dir / "curve.csv", _frame(curve))
    write_json_atomic(run.run_dir / "result.json", result)
    return result


# --- build: everything the loop needs, made once --------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """One run's resolved settings and objects, built before the first step."""

    cfg: TrainConfig  # resolved config (n_tokens filled in)
    run_id: str  # hash of cfg: the run directory's name
    run_dir: Path  # out_dir/name/run_id: config.json, curve.csv, result.json
    device: torch.device  # where the model trains
    bf16: bool  # bf16 autocast on
    corpus: Corpus  # train and validation tokens
    cloze: ClozeSet | None  # downstream cloze items, None when cloze_items is 0
    mcfg: ModelConfig  # the model's shape
    n_params: dict[str, int]  # count_params(mcfg): n_params, n_params_nonembed
    model: GPT  # the model (evaluated uncompiled)
    fwd: Callable[[torch.Tensor], torch.Tensor]  # forward used for training: the model, compiled when cfg.compile
    opt: torch.optim.Optimizer  # AdamW with per-group lr_mult (muP)
    autocast: Callable[[], Any]  # context-manager factory: bf16 autocast or a no-op
    windows: torch.Tensor  # fixed validation windows on device
    rng: np.random.Generator  # batch order, seeded by cfg.seed
    total: int  # training steps
    warmup: int  # schedule warm-up steps
    decay: int  # schedule decay steps (wsd)
    log_at: frozenset[int]  # steps that log a curve row (validation loss)

    @property
    def per_step(self) -> int:
        """Training tokens per step."""
        return self.cfg.batch_size * self.cfg.seq_len


def _build(cfg: TrainConfig, out_dir: Path) -> _Run:
    """Load the corpus, make the model and optimizer, write config.json; raise before any training."""
    rid = run_id(cfg)
    run_dir = out_dir / cfg.name / rid
    device = pick_device(cfg.device)
    bf16 = cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and device.type == "cuda")
    corpus = load_corpus(cfg.corpus, cfg.tokenizer, cfg.vocab_size)
    check_fits(corpus, cfg.seq_len)
    cloze = build_cloze(corpus.val, cfg.cloze_items, cfg.seq_len) if cfg.cloze_items > 0 else None
    mcfg = cfg.model_config()
    model, counts = _build_model(mcfg, cfg.seed, device)
    write_json_atomic(run_dir / "config.json", {"run_id": rid, **cfg.to_dict(), "device_resolved": str(device)})

    opt = torch.optim.AdamW(
        param_groups(model, mcfg, cfg.lr, cfg.weight_decay),
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        fused=device.type == "cuda",
    )
    total = cfg.n_tokens // (cfg.batch_size * cfg.seq_len)
    warmup, decay = phase_steps(total, cfg.warmup_frac, cfg.decay_frac)
    return _Run(
        cfg=cfg,
        run_id=rid,
        run_dir=run_dir,
        device=device,
        bf16=bf16,
        corpus=corpus,
        cloze=cloze,
        mcfg=mcfg,
        n_params=counts,
        model=model,
        fwd=torch.compile(model) if cfg.compile else model,
        opt=opt,
        autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext,
        windows=torch.as_tensor(eval_windows(corpus.val, cfg.seq_len, cfg.eval_tokens), device=device),
        rng=np.random.default_rng(cfg.seed),
        total=total,
        warmup=warmup,
        decay=decay,
        log_at=frozenset(log_steps(total, cfg.n_evals)),
    )


def _build_model(mcfg: ModelConfig, seed: int, device: torch.device) -> tuple[GPT, dict[str, int]]:
    """The seeded model on ``device`` and its parameter counts (checked against counting.py)."""
    model = GPT(mcfg, seed=seed).to(device)
    counts = count_params(mcfg)
    real = sum(p.numel() for p in model.parameters())
    if real != counts["n_params"]:  # guards counting.py against model changes
        raise TrainingError(f"parameter count mismatch: model has {real}, counting.py says {counts['n_params']}")
    return model, counts


# --- step: one batch and its learning rate ----------------------------------------------------------------------


def _get_batch(run: _Run) -> torch.Tensor:
    """``batch_size`` random training windows of ``seq_len + 1`` tokens, on the device."""
    cfg = run.cfg
    return torch.from_numpy(sample_batch(run.corpus.train, cfg.batch_size, cfg.seq_len, run.rng)).to(run.device)


def _lr_at(run: _Run, step: int) -> float:
    """Peak learning rate x the schedule's multiplier for 1-based ``step``."""
    cfg = run.cfg
    mult = lr_multiplier(
        step - 1, total=run.total, schedule=cfg.schedule, warmup=run.warmup, min_ratio=cfg.min_lr_ratio, decay=run.decay
    )
    return cfg.lr * mult


# --- evaluate and summarise ---------------------------------------------------------------------------------------


def _curve_row(
    run: _Run, step: int, lr: float, train_loss: float, clock: Clock, *, evaluate_now: bool
) -> dict[str, Any]:
    """One curve.csv row; the validation loss is NaN when not evaluated (a diverged run). With the cloze set
    on, the checkpoint's downstream task loss and accuracy too (the inputs of `scalefit fit ladder`)."""
    loss = evaluate(run.model, run.windows, 2 * run.cfg.batch_size, run.autocast) if evaluate_now else float("nan")
    row = {"step": step, "tokens": step * run.per_step, "lr": lr, "train_loss": train_loss, "loss": loss,
           "wall_s": clock.wall_s()}
    if run.cloze is not None:
        nan = {"loss_cloze": float("nan"), "acc_cloze": float("nan")}
        row.update(cloze_metrics(run.model, run.cloze, run.device) if evaluate_now else nan)
    return row


def _summarise(run: _Run, curve: list[dict[str, Any]], steps: int, diverged: str, clock: Clock) -> dict[str, Any]:
    """The result row: run-log columns (RESULT_COLUMNS) first, then details; the cloze error is measured here."""
    cfg, ok = run.cfg, not diverged
    n_tokens = steps * run.per_step
    final = curve[-1]["loss"] if ok else float("nan")
    err = err_cloze(run.model, run.cloze, run.device) if ok and run.cloze is not None else float("nan")
    tokens_per_s = clock.tokens_per_s(steps, run.per_step)
    fpt = flops_per_token(run.mcfg)
    peak = _peak_flops(cfg, run.device, run.bf16)
    return {
        "run_id": run.run_id,
        "n_params": run.n_params["n_params"],
        "n_params_nonembed": run.n_params["n_params_nonembed"],
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
        "wall_s": clock.wall_s(),
        "status": "diverged" if diverged else "ok",
        "name": cfg.name,
        "bits_per_byte": _finite_or_none(bits_per_byte(final, run.corpus)) if ok else None,
        "train_loss": _finite_or_none(curve[-1]["train_loss"]) if curve else None,
        "batch_tokens": run.per_step,
        "seq_len": cfg.seq_len,
        "n_heads": cfg.n_heads,
        "steps": steps,
        "tokens_per_param": n_tokens / run.n_params["n_params"],
        "flops_per_token": fpt,
        "mfu": _finite_or_none(fpt * tokens_per_s / peak) if peak else None,
        "device": str(run.device),
        "message": diverged,
    }


def _frame(curve: list[dict[str, Any]]):
    import pandas as pd

    columns = ["step", "tokens", "lr", "train_loss", "loss", "wall_s"]
    return pd.DataFrame(curve, columns=columns + [c for c in CLOZE_CURVE_COLUMNS if curve and c in curve[0]])
