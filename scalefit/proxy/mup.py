"""Standard (SP) and maximal-update (muP) parametrizations: init, multipliers and optimizer groups.

muP follows Yang et al. (2022, "Tensor Programs V", Table 3 / the ``mup`` package) for Adam, with
width multiplier ``m = width / base_width``:

- hidden matrices (attention and MLP weights) are initialised with std ``init_std / sqrt(m)`` and
  trained with learning rate ``lr / m`` (optimizer parameter groups);
- embeddings and vector-like parameters (norms, biases) keep std ``init_std`` and learning rate ``lr``;
- the readout is multiplied by ``1 / m`` in the forward pass (its weights stay vector-like);
- attention logits are scaled by ``1 / d_head`` instead of ``1 / sqrt(d_head)``; we use
  ``sqrt(d_head_base) / d_head`` so that the scale equals SP's at the base width.

At ``width == base_width`` every multiplier is 1, so muP and SP build the identical model and optimizer.
Residual output projections get an extra ``1 / sqrt(2 depth)`` in both parametrizations (GPT-2).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from scalefit.proxy.config import ModelConfig

__all__ = [
    "attention_scale",
    "init_parameters",
    "param_groups",
    "param_kind",
    "readout_multiplier",
    "width_mult",
]

_EMBEDDINGS = ("wte.weight", "wpe.weight")
_READOUT = ("lm_head.weight",)
_RESIDUAL_OUT = ("attn.proj.weight", "mlp.proj.weight")


def width_mult(cfg: ModelConfig) -> float:
    """``width / base_width`` under muP, 1 under SP."""
    return cfg.width / cfg.base_width if cfg.parametrization == "mup" else 1.0


def attention_scale(cfg: ModelConfig) -> float:
    """Softmax scale of the attention logits: ``1/sqrt(d_head)`` (SP) or ``sqrt(d_head_base)/d_head`` (muP)."""
    if cfg.parametrization == "mup":
        return math.sqrt(cfg.base_width // cfg.n_heads) / cfg.d_head
    return 1.0 / math.sqrt(cfg.d_head)


def readout_multiplier(cfg: ModelConfig) -> float:
    """Multiplier of the logits: ``1/m`` under muP, 1 under SP."""
    return 1.0 / width_mult(cfg)


def param_kind(name: str, param: torch.Tensor) -> str:
    """``embedding``, ``readout``, ``hidden`` (matrices inside blocks) or ``vector`` (norms, biases)."""
    if name in _EMBEDDINGS:
        return "embedding"
    if name in _READOUT:
        return "readout"
    return "hidden" if param.ndim >= 2 else "vector"


@torch.no_grad()
def init_parameters(model: torch.nn.Module, cfg: ModelConfig, seed: int) -> None:
    """Initialise every parameter of ``model`` in place from ``seed`` (on CPU, so devices agree)."""
    gen = torch.Generator(device="cpu").manual_seed(seed)
    m = width_mult(cfg)
    for name, p in model.named_parameters():
        kind = param_kind(name, p)
        if kind == "vector":
            p.fill_(0.0 if name.endswith("bias") else 1.0)  # LayerNorm gains 1, biases 0
            continue
        std = cfg.init_std
        if kind == "hidden":
            std = std / math.sqrt(m)
            if name.endswith(_RESIDUAL_OUT):
                std = std / math.sqrt(2 * cfg.depth)
        values = torch.empty(p.shape, dtype=torch.float32).normal_(0.0, std, generator=gen)
        p.copy_(values.to(device=p.device, dtype=p.dtype))


def param_groups(model: torch.nn.Module, cfg: ModelConfig, lr: float, weight_decay: float) -> list[dict]:
    """AdamW parameter groups; each carries ``lr_mult`` (``1/m`` for muP hidden matrices, else 1).

    Weight decay applies to matrices (embeddings included), not to norms or biases.
    """
    hidden_mult = 1.0 / width_mult(cfg)
    buckets: dict[tuple[str, float, float], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        kind = param_kind(name, p)
        mult = hidden_mult if kind == "hidden" else 1.0
        decay = weight_decay if p.ndim >= 2 else 0.0
        group = "hidden" if kind == "hidden" else ("matrix" if p.ndim >= 2 else "vector")
        buckets.setdefault((group, mult, decay), []).append(p)
    return [
        {"name": group, "params": params, "lr": lr * mult, "lr_mult": mult, "weight_decay": decay}
        for (group, mult, decay), params in buckets.items()
    ]
