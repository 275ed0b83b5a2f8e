"""Sweeps and runs on several devices or with checkpoints: dry-run estimates (the compute splits, the gradient
all-reduce and launch do not) and the disk the checkpoints use."""

from __future__ import annotations

import dataclasses

import pytest

from scalefit.proxy.config import TrainConfig, resolve
from scalefit.sweeps.estimate import DEVICE_MODELS, estimate_seconds

BIG = resolve(TrainConfig(width=1024, depth=24, n_heads=16, seq_len=1024, batch_size=256, n_tokens=10**10))


def test_more_devices_take_less_time_but_not_proportionally_less():
    hours = {d: estimate_seconds(dataclasses.replace(BIG, devices=d), "cuda") / 3600 for d in (1, 2, 8)}
    assert hours[1] > hours[2] > hours[8]
    assert hours[1] / hours[8] < 8 and hours[1] / hours[8] > 6  # compute-bound: close to linear, all-reduce apart
    assert not DEVICE_MODELS["cuda"].measured


def test_fsdp_moves_more_bytes_than_ddp_and_one_device_is_unchanged():
    ddp = estimate_seconds(dataclasses.replace(BIG, devices=4), "cuda")
    fsdp = estimate_seconds(dataclasses.replace(BIG, devices=4, shard="fsdp"), "cuda")
    assert fsdp > ddp
    assert estimate_seconds(dataclasses.replace(BIG, shard="fsdp"), "cuda") == estimate_seconds(BIG, "cuda")


def test_a_small_cpu_run_gains_little_from_a_second_process():
    small = resolve(TrainConfig(width=32, depth=2, n_heads=2, seq_len=32, batch_size=8, n_tokens=200 * 256))
    one, two = estimate_seconds(small, "cpu"), estimate_seconds(dataclasses.replace(small, devices=2), "cpu")
    assert two > 0.6 * one  # launch and all-reduce eat most of the split


def test_sweep_status_says_how_much_disk_the_checkpoints_use(tmp_path):
    pytest.importorskip("torch")
    from scalefit.sweeps.executors import SerialExecutor
    from scalefit.sweeps.runner import run_sweep
    from scalefit.sweeps.spec import parse_spec
    from scalefit.sweeps.store import sweep_status

    fixed = {"corpus": "pydoc", "seq_len": 16, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256,
             "n_evals": 2, "tokens": 6 * 64, "device": "cpu", "checkpoint_every": 2}  # fmt: skip
    kept = parse_spec({"name": "s", "fixed": {**fixed, "keep_checkpoints": True}, "grid": {"shape": [[16, 1]]}})
    run_sweep(kept, tmp_path / "kept", executor=SerialExecutor(threads=1))
    status = sweep_status(tmp_path / "kept")
    assert status.checkpoints == 1 and status.checkpoint_bytes > 1000 and status.to_dict()["checkpoints"] == 1
    (tmp_path / "kept" / status.best["run_id"] / "checkpoint.pt").unlink()
    assert sweep_status(tmp_path / "kept").checkpoints == 0  # (without keep_checkpoints the run deletes it itself)
