"""Training-loop bookkeeping: loss read-back with the divergence check, and the step clock."""

from __future__ import annotations

import math

import pytest
import torch

from scalefit.proxy.monitor import Clock, TrainLoss


def test_train_loss_means_over_checked_steps_and_flags_divergence():
    losses = TrainLoss(torch.device("cpu"), diverge_factor=2.0)
    losses.add(torch.tensor(4.0))
    assert losses.check(1) == "" and losses.first == 4.0 and losses.pending == 0
    for x in (3.0, 5.0):
        losses.add(torch.tensor(x))
    assert losses.pending == 2 and losses.check(3) == ""
    assert losses.pop_mean() == pytest.approx(4.0) and losses.pop_mean() == 0.0  # popped: starts over
    losses.add(torch.tensor(8.5))
    assert losses.check(4) == "training loss 8.5 at step 4 (first loss 4)"  # 8.5 > 2 x 4
    losses.add(torch.tensor(float("nan")))
    assert "training loss nan at step 5" in losses.check(5)


def test_clock_times_step_one_apart():
    clock = Clock()
    assert math.isnan(clock.tokens_per_s(1, 256))  # nothing timed yet
    clock.first_step_s, clock.train_s = 2.0, 0.5
    assert clock.tokens_per_s(1, 256) == 128.0  # only step 1: it counts
    assert clock.tokens_per_s(3, 256) == 1024.0  # steps 2-3 over train_s; step 1 left out
    clock.resume()
    clock.pause(2, torch.device("cpu"))
    assert clock.train_s >= 0.5 and clock.first_step_s == 2.0 and clock.wall_s() >= 0
