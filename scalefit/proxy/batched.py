"""K same-shape proxy runs trained as one batched model: ``train_batch(configs, out_dir) -> result rows``.

Each member is built by the single-run trainer's ``_build`` (same seed: same init, same data-order generator,
same schedule, its own run folder and config.json), then the members' weights are stacked into one model with a
leading member dimension (``batched_model``): one forward/backward and one AdamW step per step for all members,
each with its own learning rate and schedule. A member's curve rows, divergence checks and result row are made
by the single-run trainer's own functions at the same steps, so its files are those of training it alone, up
to float rounding (tests/proxy/test_batched.py). A member that reaches its token budget or diverges is written
out at its own step and leaves the batch; the others continue undisturbed.

tokens/s in a member's result is its own share of the training throughput (the batch's aggregate tokens/s is
the sum over members), and its ``wall_s`` is its share of the batch's wall time (each second split evenly
among the members training then), so summed over a sweep's runs.csv both mean what they mean for single runs.
Curve rows' ``wall_s`` is the time since the batch started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from scalefit._io import write_csv_atomic, write_json_atomic
from scalefit.proxy import batched_model as bm
from scalefit.proxy.config import TrainConfig
from scalefit.proxy.data import sample_batch
from scalefit.proxy.group import check_group
from scalefit.proxy.monitor import Clock, LossLog
from scalefit.proxy.train import SYNC_EVERY, _build, _curve_row, _frame, _lr_at, _Run, _summarise

__all__ = ["train_batch"]


def train_batch(
    configs: list[TrainConfig],
    out_dir: str | Path = "runs",
    *,
    on_log: Callable[[int, dict], None] | None = None,
    on_done: Callable[[int, dict], None] | None = None,
) -> list[dict[str, Any]]:
    """Train the configs as one batched model; their result rows, in the configs' order.

    The configs must share their ``group.group_key`` (ConfigError otherwise, before any training). Each member
    writes ``out_dir/name/run_id/`` like ``train_run``. ``on_log(i, row)`` gets member i's curve rows as they are
    logged, ``on_done(i, result)`` its result row when it leaves the batch.
    """
    resolved = check_group(configs)
    threads = torch.get_num_threads()
    if resolved[0].threads > 0:
        torch.set_num_threads(resolved[0].threads)
    try:
        return _Batch(resolved, Path(out_dir), on_log, on_done).train()
    finally:
        torch.set_num_threads(threads)


class _Batch:
    """The members still training (``active``: their indices) and the batched weights and optimizer."""

    def __init__(self, configs: list[TrainConfig], out_dir: Path, on_log, on_done) -> None:
        self.clock = Clock()
        self.runs: list[_Run] = [_build(cfg, out_dir) for cfg in configs]
        first = self.runs[0]
        self.cfg, self.device, self.mcfg = first.cfg, first.device, first.mcfg
        self.on_log, self.on_done = on_log, on_done
        self.active = list(range(len(self.runs)))
        self.params = bm.stack([r.model for r in self.runs])
        self.opt = bm.BatchedAdamW(self.params, first.model, self.cfg.weight_decay, (self.cfg.beta1, self.cfg.beta2),
                                   self.cfg.eps)  # fmt: skip
        self.fwd = torch.compile(bm.forward) if self.cfg.compile else bm.forward
        self.logs = [LossLog(r.cfg.diverge_factor) for r in self.runs]
        self.window = torch.zeros(len(self.runs), device=self.device)  # per active member, on device
        self.curves: list[list[dict[str, Any]]] = [[] for _ in self.runs]
        self.results: list[dict[str, Any] | None] = [None] * len(self.runs)
        self.share_s = [0.0] * len(self.runs)  # each member's share of the wall time so far
        self.mark = self.clock.start  # wall time accounted up to here

    def train(self) -> list[dict[str, Any]]:
        self.clock.resume()
        step = 0
        while self.active:
            step += 1
            lrs = [_lr_at(self.runs[i], step) for i in self.active]
            self._step(lrs)
            diverged = self._check(step)
            self._log(step, lrs, diverged)
            self._retire(step, diverged)
        return self.results

    def _batch(self) -> torch.Tensor:
        """Each active member's next training windows (its own generator: the single run's data order)."""
        rows = [sample_batch(self.runs[i].corpus.train, self.cfg.batch_size, self.cfg.seq_len, self.runs[i].rng)
                for i in self.active]  # fmt: skip
        return torch.from_numpy(np.stack(rows)).to(self.device)

    def _step(self, lrs: list[float]) -> None:
        batch = self._batch()
        with self.runs[0].autocast():
            logits = self.fwd(self.params, batch[..., :-1], self.mcfg)
        objective, ce = bm.batched_loss(logits, batch[..., 1:], self.cfg.z_loss)
        objective.backward()
        if self.cfg.grad_clip > 0:
            bm.clip_grad_norms(list(self.params.values()), self.cfg.grad_clip)
        self.opt.step(self.params, lrs)
        for p in self.params.values():
            p.grad = None
        self.window += ce.detach()
        for i in self.active:
            self.logs[i].pending += 1

    def _check(self, step: int) -> dict[int, str]:
        """Divergence checks of the members due one (as the single-run loop schedules them): member -> message."""
        due = [j for j, i in enumerate(self.active)
               if step == 1 or step in self.runs[i].log_at or self.logs[i].pending == SYNC_EVERY]  # fmt: skip
        if not due:
            return {}
        sums = self.window.tolist()  # one host sync for all of them
        self.window[torch.tensor(due, device=self.device)] = 0.0
        messages = {self.active[j]: self.logs[self.active[j]].close(sums[j], step) for j in due}
        return {i: msg for i, msg in messages.items() if msg}

    def _log(self, step: int, lrs: list[float], diverged: dict[int, str]) -> None:
        logging = [(j, i) for j, i in enumerate(self.active) if step in self.runs[i].log_at or i in diverged]
        if not logging:
            return
        self.clock.pause(step, self.device)
        for j, i in logging:
            row = _curve_row(self.runs[i], step, lrs[j], self.logs[i].pop_mean(), self.clock,
                             evaluate_now=i not in diverged)  # fmt: skip
            self.curves[i].append(row)
            if self.on_log is not None:
                self.on_log(i, row)
        self.clock.resume()

    def _retire(self, step: int, diverged: dict[int, str]) -> None:
        """Write out the members that finished or diverged at ``step`` and take them out of the batch."""
        leaving = [i for i in self.active if i in diverged or step == self.runs[i].total]
        if not leaving:
            return
        self.clock.pause(step + 1, self.device)  # the cloze error and the files are not training time
        for i in leaving:
            run = self.runs[i]
            result = _summarise(run, self.curves[i], step, diverged.get(i, ""), self.clock)
            self._account()
            result["wall_s"] = self.share_s[i]
            write_csv_atomic(run.run_dir / "curve.csv", _frame(self.curves[i]))
            write_json_atomic(run.run_dir / "result.json", result)
            self.results[i] = result
            if self.on_done is not None:
                self.on_done(i, result)
        keep = [j for j, i in enumerate(self.active) if i not in leaving]
        self.active = [self.active[j] for j in keep]
        if self.active:
            self.params = bm.select(self.params, [self.runs[i].model for i in self.active], keep)
            self.opt.select(keep)
            self.window = self.window[torch.tensor(keep, device=self.device)]
        self.clock.resume()

    def _account(self) -> None:
        """Split the wall time since the last call evenly among the members still in the batch."""
        now = time.perf_counter()
        for i in self.active:
            self.share_s[i] += (now - self.mark) / len(self.active)
        self.mark = now
