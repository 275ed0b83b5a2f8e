"""Which proxy runs can train together as one batched model (``batched.py``): same shape, own hyperparameters.

Members of a group share everything that fixes the computation's shape and the optimizer's form (the model,
corpus and tokenizer, batch size, AdamW betas/eps/weight decay, clipping, z-loss, device and dtype) and may
differ in ``PER_MEMBER`` fields: learning rate and schedule, seed and init scale, token budget, evaluation and
the run name. This module never imports torch, so sweeps can pack runs without it.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from scalefit.errors import ConfigError
from scalefit.proxy.config import TrainConfig, resolve

__all__ = ["PER_MEMBER", "check_group", "group_key"]

# TrainConfig fields that may differ between the members of one batched model.
PER_MEMBER = (
    "name", "seed", "init_std", "lr", "schedule", "warmup_frac", "decay_frac", "min_lr_ratio", "n_tokens",
    "tokens_per_param", "n_evals", "eval_tokens", "cloze_items", "diverge_factor", "peak_flops",
)  # fmt: skip


def group_key(cfg: TrainConfig) -> tuple[tuple[str, Any], ...]:
    """The shared fields of ``cfg`` (tied_embeddings resolved): runs with equal keys can be batched."""
    tied = cfg.model_config().tied_embeddings
    return tuple(
        (f.name, tied if f.name == "tied_embeddings" else getattr(cfg, f.name))
        for f in fields(TrainConfig)
        if f.name not in PER_MEMBER
    )


def check_group(configs: list[TrainConfig]) -> list[TrainConfig]:
    """The configs resolved; ConfigError unless there is at least one and all share their ``group_key``."""
    if not configs:
        raise ConfigError("a batched run needs at least one configuration")
    resolved = [resolve(c) for c in configs]
    if any(c.cooldown_branches for c in resolved):
        raise ConfigError("a run with cooldown_branches trains alone (it writes its branches' checkpoints as it goes): "
                          "use train_branched, or leave it out of the batched run")
    first = dict(group_key(resolved[0]))
    for i, cfg in enumerate(resolved[1:], 2):
        differ = [k for k, v in group_key(cfg) if first[k] != v]
        if differ:
            raise ConfigError(
                f"configuration {i} differs from the first in {', '.join(differ)}; members of one batched run "
                f"may differ only in {', '.join(PER_MEMBER)}"
            )
    return resolved
