"""Proxy LMs (torch only): model (SP and muP), corpus and tokenizer, one training run, counting.

``TrainConfig``, ``make_config``, ``run_id`` and the counting functions need no torch; ``train_run``
and the model import torch when first used.
"""

from __future__ import annotations

from typing import Any

from scalefit.proxy.config import ModelConfig, TrainConfig, make_config, resolve, run_id
from scalefit.proxy.counting import count_params, flops_per_token, training_flops

__all__ = [
    "ModelConfig",
    "TrainConfig",
    "count_params",
    "flops_per_token",
    "make_config",
    "resolve",
    "run_id",
    "train_run",
    "training_flops",
]


def __getattr__(name: str) -> Any:
    if name == "train_run":
        from scalefit.proxy.train import train_run

        return train_run
    raise AttributeError(f"module 'scalefit.proxy' has no attribute {name!r}")
