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

Several devices (``devices = N``; ``distributed.py`` launches the processes or reads them from torchrun/Slurm):
DDP replicas by default, FSDP2 ``fully_shard`` per block with ``shard = "fsdp"`` (the muP optimizer groups are
built on the sharded parameters, by name). Every rank draws the same global batch and trains on its
``batch_size / devices`` rows (in ``micro_batch`` pieces, gradients accumulated), so the batches, and the loss curve,
do not depend on the device count; rank 0 writes the files. Mid-run checkpoints and exact resume: ``checkpoint.py``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalefit._io import check_no_links, write_csv_atomic, write_json_atomic
from scalefit.errors import ConfigError, RunInterrupted, ScalefitWarning, TrainingError
from scalefit.proxy import checkpoint, distributed
from scalefit.proxy.branches import branch_points
from scalefit.proxy.checkpoint import Checkpoints
from scalefit.proxy.cloze import ClozeSet, build_cloze, cloze_metrics, err_cloze
from scalefit.proxy.config import ModelConfig, TrainConfig, resolve, run_id
from scalefit.proxy.counting import count_params, flops_per_token
from scalefit.proxy.data import (
    Corpus,
    bits_per_byte,
    check_fits,
    data_budget_warnings,
    eval_windows,
    load_corpus,
    sample_batch,
)
from scalefit.proxy.distributed import Dist
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
def evaluate(
    model: torch.nn.Module, windows: torch.Tensor, batch: int, autocast: Any, dist: Dist | None = None
) -> float:
    """Mean validation cross-entropy (nats/token) over fixed windows; several ranks share the batches.

    Every rank runs the same number of forward passes (a sharded model gathers its weights in each), the ranks
    left without a batch in the last round repeating one and not counting it.
    """
    rank, world = (dist.rank, dist.world) if dist is not None else (0, 1)
    model.eval()
    total = torch.zeros((), device=windows.device, dtype=torch.float64)
    starts = range(0, len(windows), batch)
    for r in range(0, len(starts), world):
        mine = r + rank < len(starts)
        w = windows[starts[r + rank] : starts[r + rank] + batch] if mine else windows[:batch]
        with autocast():
            logits = model(w[:, :-1])
        if mine:
            total += lm_loss(logits, w[:, 1:])[1].double() * len(w)
    model.train()
    if dist is not None:
        dist.sum_(total)
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
    dist = distributed.from_env()
    if dist is None and config.devices > 1:
        return _launch(config, Path(out_dir), on_log)
    if dist is not None and dist.world != config.devices:
        raise ConfigError(f"the run was launched on {dist.world} processes (WORLD_SIZE) but devices is "
                          f"{config.devices}; set --devices {dist.world}")  # fmt: skip
    threads, deterministic = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    device = pick_device(config.device)
    if config.threads > 0 or (dist is not None and device.type == "cpu"):
        torch.set_num_threads(config.threads or max(1, torch.get_num_threads() // dist.world))
    if config.deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # what cuBLAS needs for determinism
        torch.use_deterministic_algorithms(True)
    try:
        with distributed.group(dist, device), tracking(config, Path(out_dir), on_log) as log:  # --log trackers
            return log.finish(_train(config, Path(out_dir), log.on_log, dist))
    finally:
        torch.set_num_threads(threads)
        torch.use_deterministic_algorithms(deterministic)


def _launch(config: TrainConfig, out_dir: Path, on_log: Callable[[dict], None] | None) -> dict[str, Any]:
    """Train on ``config.devices`` local processes; refuse what cannot work before starting any."""
    cfg = resolve(config)
    distributed.check_devices(cfg.devices, pick_device(cfg.device))
    run_dir = out_dir / cfg.name / run_id(cfg)
    checkpoint.load(run_dir, cfg)  # another config's or version's checkpoint: refused here, in one line
    distributed.launch_local(train_run, (config, str(out_dir)), cfg.devices, on_log)
    if not (run_dir / "result.json").is_file():  # the workers stopped on a signal after checkpointing
        data = checkpoint.load(run_dir, cfg)
        raise RunInterrupted(int(data["step"]) if data else 0, str(run_dir / checkpoint.FILE))
    return json.loads((run_dir / "result.json").read_text())


def _train(
    config: TrainConfig, out_dir: Path, on_log: Callable[[dict], None] | None, dist: Dist | None
) -> dict[str, Any]:
    """Build (or resume), run the steps (logging, checking and checkpointing as they go), summarise."""
    clock = Clock()
    run = _build(resolve(config), out_dir, dist)
    cfg, opt = run.cfg, run.opt
    train_loss = TrainLoss(run.device, cfg.diverge_factor)
    ckpt = Checkpoints(cfg, run.run_dir, main=run.main)
    curve: list[dict[str, Any]] = []
    start = _resume(run, train_loss, clock, curve) if run.resume is not None else 0
    diverged = ""  # why training stopped early; empty while the run is healthy
    step = start
    clock.resume()
    for step in range(start + 1, run.total + 1):
        lr = _lr_at(run, step)
        for group in opt.param_groups:
            group["lr"] = lr * group["lr_mult"]  # muP scales some groups' learning rates
        train_loss.add(_step(run, _get_batch(run)))

        save, stop = _checkpoint_due(run, ckpt, step)
        # divergence check: reading the loss back is a host sync, so only at log steps, every SYNC_EVERY steps and
        # before a checkpoint (which then holds no pending steps)
        if step == 1 or step in run.log_at or train_loss.pending == SYNC_EVERY or save:
            if run.dist is not None:
                run.dist.sum_(train_loss.window).div_(run.dist.world)
            diverged = train_loss.check(step)
        if step in run.log_at or diverged:
            clock.pause(step, run.device)
            row = _curve_row(run, step, lr, train_loss.pop_mean(), clock, evaluate_now=not diverged)
            curve.append(row)
            if on_log is not None and run.main:
                on_log(row)
            clock.resume()
        if diverged:
            break
        if save:
            clock.pause(step, run.device)
            ckpt.save(run.model, opt, _state(run, step, train_loss, clock, curve))
            if stop:
                raise RunInterrupted(step, str(ckpt.path))
            clock.resume()
        for branch in run.branches.get(step, ()):  # a cooldown branch starts here: its checkpoint is this state
            clock.pause(step, run.device)
            ckpt.save(run.model, opt, _state(run, step, train_loss, clock, curve), to=branch)
            clock.resume()

    result = _summarise(run, curve, step, diverged, clock)
    if run.main:
        write_csv_atomic(run.run_dir / "curve.csv", _frame(curve), within=out_dir)
        write_json_atomic(run.run_dir / "result.json", result, within=out_dir)
        ckpt.finish()
    return result


# --- checkpoints: when, what, and resuming from one ---------------------------------------------------------------


def _checkpoint_due(run: _Run, ckpt: Checkpoints, step: int) -> tuple[bool, bool]:
    """(save a checkpoint after ``step``, then stop): every K steps, every T minutes, on a stop signal; never after
    the last step. Several ranks agree on the clock and on signals every SYNC_EVERY steps."""
    if step >= run.total:
        return False, False
    timed, stop = ckpt.due_by_time(), checkpoint.stop_requested()
    if run.dist is not None:
        timed, stop = run.dist.any_of([timed, stop], run.device) if step % SYNC_EVERY == 0 else (False, False)
    return ckpt.due_by_step(step) or timed or stop, stop


def _state(run: _Run, step: int, train_loss: TrainLoss, clock: Clock, curve: list[dict]) -> dict[str, Any]:
    """What a checkpoint holds besides the model and optimizer (the training-loss window is empty: just checked)."""
    return {
        "step": step,
        "data_rng": run.rng.bit_generator.state,
        "loss_log": {"first": train_loss.first, "log_sum": train_loss.log_sum, "log_n": train_loss.log_n},
        "clock": {"wall_s": clock.wall_s(), "train_s": clock.train_s, "first_step_s": clock.first_step_s},
        "curve": list(curve),
    }


def _resume(run: _Run, train_loss: TrainLoss, clock: Clock, curve: list[dict]) -> int:
    """Put the run back where its checkpoint left it; returns the checkpoint's step."""
    data = run.resume
    checkpoint.restore(data, run.model, run.opt)
    run.rng.bit_generator.state = data["data_rng"]
    log = data["loss_log"]
    train_loss.first, train_loss.log_sum, train_loss.log_n = log["first"], log["log_sum"], log["log_n"]
    clock.start -= data["clock"]["wall_s"]
    clock.train_s, clock.first_step_s = data["clock"]["train_s"], data["clock"]["first_step_s"]
    curve.extend(data["curve"])
    return int(data["step"])


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
    domain_windows: dict  # a mixed corpus: domain -> its fixed validation windows on device (else empty)
    rng: np.random.Generator  # batch order, seeded by cfg.seed
    total: int  # training steps
    warmup: int  # schedule warm-up steps
    decay: int  # schedule decay steps (wsd)
    log_at: frozenset[int]  # steps that log a curve row (validation loss)
    dist: Dist | None = None  # this process's rank and world when several devices train the run
    branches: dict = dataclasses.field(default_factory=dict)  # step -> cooldown branches' checkpoint targets
    ddp: Any = None  # the DistributedDataParallel wrapper (shard ddp on several devices)
    micro: int = 0  # sequences per forward pass on this rank (gradient accumulation below the rank's share)
    resume: dict[str, Any] | None = None  # the checkpoint to resume from (checkpoint.load), None to start at step 0

    @property
    def per_step(self) -> int:
        """Training tokens per step."""
        return self.cfg.batch_size * self.cfg.seq_len

    @property
    def main(self) -> bool:
        """This process writes the run's files (rank 0, or the only one)."""
        return self.dist is None or self.dist.main


def _build(cfg: TrainConfig, out_dir: Path, dist: Dist | None = None) -> _Run:
    """Load the corpus and any checkpoint, make the model and optimizer, write config.json; raise before any
    training (and, for a checkpoint that is not this run's, before writing anything)."""
    rid = run_id(cfg)
    run_dir = check_no_links(out_dir / cfg.name / rid, out_dir)  # a linked run folder could send writes anywhere
    device = pick_device(cfg.device)
    if dist is not None and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
    resume = checkpoint.load(run_dir, cfg)
    bf16 = cfg.dtype == "bfloat16" or (cfg.dtype == "auto" and device.type == "cuda")
    corpus = load_corpus(cfg.corpus, cfg.tokenizer, cfg.vocab_size)
    check_fits(corpus, cfg.seq_len)
    cloze = build_cloze(corpus.val, cfg.cloze_items, cfg.seq_len) if cfg.cloze_items > 0 else None
    mcfg = cfg.model_config()
    model, counts = _build_model(mcfg, cfg.seed, device)
    for message in data_budget_warnings(corpus, cfg.n_tokens, counts["n_params"]):
        warnings.warn(f"{rid}: {message}", ScalefitWarning, stacklevel=2)
    if dist is None or dist.main:
        write_json_atomic(run_dir / "config.json", {"run_id": rid, **cfg.to_dict(), "device_resolved": str(device)},
                          within=out_dir)
    ddp = _distribute(model, cfg, dist, device)
    opt = torch.optim.AdamW(
        param_groups(model, mcfg, cfg.lr, cfg.weight_decay, eps=cfg.eps),  # muP/CompleteP: epsilon per group
        betas=(cfg.beta1, cfg.beta2),
        eps=cfg.eps,
        fused=device.type == "cuda",
    )
    total = cfg.n_tokens // (cfg.batch_size * cfg.seq_len)
    warmup, decay = phase_steps(total, cfg.warmup_frac, cfg.decay_frac)
    warmup = cfg.warmup_steps or warmup
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
        fwd=torch.compile(ddp or model) if cfg.compile else (ddp or model),
        opt=opt,
        autocast=(lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext,
        windows=torch.as_tensor(eval_windows(corpus.val, cfg.seq_len, cfg.eval_tokens), device=device),
        domain_windows={name: torch.as_tensor(eval_windows(ids, cfg.seq_len, cfg.eval_tokens), device=device)
                        for name, ids in corpus.domains},
        rng=np.random.default_rng(cfg.seed),
        total=total,
        warmup=warmup,
        decay=decay,
        log_at=frozenset(log_steps(total, cfg.n_evals)),
        dist=dist,
        branches=branch_points(cfg, out_dir) if cfg.cooldown_branches else {},
        ddp=ddp,
        micro=cfg.micro_batch or cfg.batch_size // cfg.devices,
        resume=resume,
    )


def _distribute(model: GPT, cfg: TrainConfig, dist: Dist | None, device: torch.device) -> Any:
    """Spread the model over the ranks: FSDP2 (``fully_shard`` each block, then the root; in place) or DDP (returns
    the wrapper). One process: nothing to do."""
    if dist is None:
        return None
    if cfg.shard == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in model.blocks:
            fully_shard(block)
        fully_shard(model)
        return None
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


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
    """``batch_size`` random training windows of ``seq_len + 1`` tokens (this rank's share of them), on the device.

    Every rank draws the whole global batch from the same generator, so the data order is the device count's."""
    cfg = run.cfg
    batch = sample_batch(run.corpus.train, cfg.batch_size, cfg.seq_len, run.rng)
    if run.dist is not None:
        share = cfg.batch_size // run.dist.world
        batch = batch[run.dist.rank * share : (run.dist.rank + 1) * share]
    return torch.from_numpy(batch).to(run.device)


def _step(run: _Run, batch: torch.Tensor) -> torch.Tensor:
    """One optimizer step on ``batch`` (in ``run.micro`` pieces, gradients accumulated and, on several devices,
    averaged across ranks at the last piece); returns the batch's mean cross-entropy on the device."""
    cfg, model = run.cfg, run.model
    pieces = batch.split(run.micro) if run.micro < len(batch) else (batch,)
    ce_sum = None
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        sync = contextlib.nullcontext()
        if run.ddp is not None and not last:
            sync = run.ddp.no_sync()
        elif run.dist is not None and cfg.shard == "fsdp" and len(pieces) > 1:
            model.set_requires_gradient_sync(last)
        with sync:
            with run.autocast():
                logits = run.fwd(piece[:, :-1])
            objective, ce = lm_loss(logits, piece[:, 1:], cfg.z_loss)
            (objective if len(pieces) == 1 else objective / len(pieces)).backward()
        ce_sum = ce.detach() if ce_sum is None else ce_sum + ce.detach()
    if cfg.grad_clip > 0:
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip, foreach=True)
    run.opt.step()
    run.opt.zero_grad(set_to_none=True)
    return ce_sum if len(pieces) == 1 else ce_sum / len(pieces)


def _lr_at(run: _Run, step: int) -> float:
    """Peak learning rate x the schedule's multiplier for 1-based ``step``."""
    cfg = run.cfg
    mult = lr_multiplier(
        step - 1, total=run.total, schedule=cfg.schedule, warmup=run.warmup, min_ratio=cfg.min_lr_ratio,
        decay=run.decay, cooldown=cfg.cooldown,
    )
    return cfg.lr * mult


# --- evaluate and summarise ---------------------------------------------------------------------------------------


def _curve_row(
    run: _Run, step: int, lr: float, train_loss: float, clock: Clock, *, evaluate_now: bool
) -> dict[str, Any]:
    """One curve.csv row; the validation loss is NaN when not evaluated (a diverged run). With the cloze set
    on, the checkpoint's downstream task loss and accuracy too (the inputs of `scalefit fit ladder`)."""
    loss = (evaluate(run.model, run.windows, 2 * run.cfg.batch_size, run.autocast, run.dist) if evaluate_now
            else float("nan"))  # fmt: skip
    row = {"step": step, "tokens": step * run.per_step, "lr": lr, "train_loss": train_loss, "loss": loss,
           "wall_s": clock.wall_s()}
    for name, windows in run.domain_windows.items():  # a mixed corpus: each domain's validation loss too
        row[f"loss_{name}"] = (evaluate(run.model, windows, 2 * run.cfg.batch_size, run.autocast, run.dist)
                               if evaluate_now else float("nan"))  # fmt: skip
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
    peak = peak * cfg.devices if peak else None  # every device's peak
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
        "devices": cfg.devices,
        "message": diverged,
    }


def _frame(curve: list[dict[str, Any]]):
    import pandas as pd

    columns = ["step", "tokens", "lr", "train_loss", "loss", "wall_s"]
    domains = [c for c in (curve[0] if curve else {}) if c.startswith("loss_") and c not in CLOZE_CURVE_COLUMNS]
    return pd.DataFrame(curve, columns=columns + domains + [c for c in CLOZE_CURVE_COLUMNS if curve and c in curve[0]])
