"""Bookkeeping of the training loop: the training loss (read back rarely, with the divergence check) and the clock.

Neither touches the model or the data; ``train.py``'s loop owns both and reads them when it logs.
"""

from __future__ import annotations

import math
import time

import torch

__all__ = ["Clock", "LossLog", "TrainLoss"]


class LossLog:
    """Host side of the training loss: checked window sums, the divergence test and the mean since the last row.

    ``pending`` counts the steps added since the last check; ``close(window_sum, step)`` takes their summed loss
    (read back from the device by the caller) and returns a message when the run diverged. ``TrainLoss`` keeps one
    run's window on the device; the batched trainer keeps one window per member and one ``LossLog`` each.
    """

    def __init__(self, diverge_factor: float) -> None:
        self.diverge_factor = diverge_factor
        self.pending = 0  # steps added since the last check
        self.first: float | None = None  # the first checked loss sum (step 1 alone): divergence reference
        self.log_sum, self.log_n = 0.0, 0  # checked sum and step count since the last curve row

    def close(self, window: float, step: int) -> str:
        """Take the pending steps' loss sum; a message when their mean is NaN/inf or over diverge_factor x the first."""
        if self.first is None:
            self.first = window
        self.log_sum, self.log_n = self.log_sum + window, self.log_n + self.pending
        mean = window / self.pending
        self.pending = 0
        if not math.isfinite(mean) or mean > self.diverge_factor * self.first:
            return f"training loss {mean:.4g} at step {step} (first loss {self.first:.4g})"
        return ""

    def pop_mean(self) -> float:
        """Mean training loss since the last call, then start over."""
        mean = self.log_sum / max(self.log_n, 1)
        self.log_sum, self.log_n = 0.0, 0
        return mean


class TrainLoss(LossLog):
    """Training cross-entropy, summed on the device and read back only when checked (each read is a host sync).

    ``check`` reads the pending sum and tests for divergence; ``pop_mean`` gives the mean training loss over
    the checked steps since the last curve row.
    """

    def __init__(self, device: torch.device, diverge_factor: float) -> None:
        super().__init__(diverge_factor)
        self.window = torch.zeros((), device=device)  # sum over the pending steps, on device

    def add(self, ce: torch.Tensor) -> None:
        self.window += ce.detach()
        self.pending += 1

    def check(self, step: int) -> str:
        """Read the pending steps back; a message when their mean loss is NaN/inf or over diverge_factor x the first."""
        window = self.window.item()
        self.window.zero_()
        return self.close(window, step)


class Clock:
    """Wall time since the run began, and training time: steps only, evaluation and logging left out.

    Step 1 (compilation and warm-up) is timed apart and counts toward tokens/s only when it is the only step.
    """

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self.lap_start = self.start
        self.train_s = 0.0  # training time of steps 2..
        self.first_step_s = 0.0  # time of step 1

    def resume(self) -> None:
        """Training steps start (again)."""
        self.lap_start = time.perf_counter()

    def pause(self, step: int, device: torch.device) -> None:
        """Training steps stop for a log at ``step``: add the lap since ``resume`` (after the device finishes)."""
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        elapsed = time.perf_counter() - self.lap_start
        if step == 1:
            self.first_step_s = elapsed
        else:
            self.train_s += elapsed

    def wall_s(self) -> float:
        return time.perf_counter() - self.start

    def tokens_per_s(self, steps: int, per_step: int) -> float:
        """Training tokens per second after ``steps`` steps of ``per_step`` tokens (NaN when untimed)."""
        timed_tokens, timed = ((steps - 1) * per_step, self.train_s) if steps > 1 else (per_step, self.first_step_s)
        return timed_tokens / timed if timed > 0 else float("nan")
