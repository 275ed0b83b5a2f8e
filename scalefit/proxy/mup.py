"""Standard (SP), maximal-update (muP) and depth (CompleteP) parametrizations: init, multipliers, optimizer groups.

muP follows Yang et al. (2022, "Tensor Programs V", Table 3 / the ``mup`` package) for Adam, with width
multiplier ``m = width / base_width``:

- hidden matrices (attention and MLP weights) are initialised with std ``init_std / sqrt(m)`` (fan-in scaled
  relative to the base width, Tensor Programs V's rule, under which the base width's best ``init_std`` should
  transfer; on the byte-level CPU proxies it did not: base width 32's best is 2x the default, width 128's under muP
  4x or more, see benchmarks/results/diag_mup_width.json) and trained with learning rate
  ``lr / m``; their decoupled weight decay is multiplied by ``m`` so that AdamW's per-step shrink ``lr * wd``
  stays width-independent (the ``mup`` package's ``MuAdamW`` does the same);
- Adam's epsilon is divided by ``m`` for every parameter (gradients shrink as ``1/m``; Everett et al. 2024,
  "Scaling exponents across parameterizations and optimizers"), so it never dominates the update at width;
- embeddings and vector-like parameters (norms, biases) keep std ``init_std`` and learning rate ``lr``;
- the readout is multiplied by ``output_mult / m`` in the forward pass (its weights stay vector-like); a tied
  readout shares the input embedding's matrix exactly as ``mup``'s ``MuSharedReadout`` does;
- attention logits are scaled by ``1 / d_head`` (``mup_attention="1/d"``) times ``sqrt(d_head_base)``, the base
  shape's head size ``base_width / base_n_heads``, so the scale equals SP's at the base shape and stays right
  when heads grow with width; ``mup_attention="1/sqrt(d)"`` keeps SP's scale.

CompleteP (Dey et al. 2025, "Don't be lazy: CompleteP enables compute-efficient deep transformers", alpha = 1),
on when ``base_depth > 0``, with depth multiplier ``d = depth / base_depth``: every residual branch is multiplied
by ``1/d``; the output projections' init uses the base depth (``1/sqrt(2 base_depth)``) instead of the run's;
the learning rates are unchanged (``d ** (alpha - 1) = 1``) and Adam's epsilon of the parameters inside the
blocks is further divided by ``d``.

At the base shape (``width == base_width``, ``depth == base_depth``) every multiplier is 1, so muP/CompleteP and
SP build the identical model and optimizer. Without CompleteP, residual output projections get the GPT-2
``1 / sqrt(2 depth)`` init in both parametrizations.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from scalefit.proxy.config import ModelConfig

__all__ = [
    "attention_scale",
    "depth_mult",
    "init_parameters",
    "param_groups",
    "param_kind",
    "readout_multiplier",
    "residual_multiplier",
    "width_mult",
]

_EMBEDDINGS = ("wte.weight", "wpe.weight")
_READOUT = ("lm_head.weight",)
_RESIDUAL_OUT = ("attn.proj.weight", "mlp.proj.weight")
_QKV = "attn.qkv.weight"


def width_mult(cfg: ModelConfig) -> float:
    """``width / base_width`` under muP, 1 under SP."""
    return cfg.width / cfg.base_width if cfg.parametrization == "mup" else 1.0


def depth_mult(cfg: ModelConfig) -> float:
    """``depth / base_depth`` under CompleteP (``base_depth > 0``), else 1."""
    return cfg.depth / cfg.base_depth if cfg.base_depth > 0 else 1.0


def residual_multiplier(cfg: ModelConfig) -> float:
    """Multiplier of every residual branch: ``1 / depth_mult`` (CompleteP's alpha = 1), 1 without it."""
    return 1.0 / depth_mult(cfg)


def attention_scale(cfg: ModelConfig) -> float:
    """Softmax scale of the attention logits: ``1/sqrt(d_head)`` (SP), ``sqrt(d_head_base)/d_head`` (muP, 1/d)."""
    if cfg.parametrization == "mup" and cfg.mup_attention == "1/d":
        base_d_head = cfg.base_width // (cfg.base_n_heads or cfg.n_heads)
        return math.sqrt(base_d_head) / cfg.d_head
    return 1.0 / math.sqrt(cfg.d_head)


def readout_multiplier(cfg: ModelConfig) -> float:
    """Multiplier of the logits: ``output_mult / m`` under muP, ``output_mult`` under SP."""
    return cfg.output_mult / width_mult(cfg)


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
    residual_depth = cfg.base_depth if cfg.base_depth > 0 else cfg.depth
    for name, p in model.named_parameters():
        kind = param_kind(name, p)
        if kind == "vector":
            p.fill_(0.0 if name.endswith("bias") else 1.0)  # norm gains 1, biases 0
            continue
        std = cfg.init_std
        if kind == "hidden":
            std = std / math.sqrt(m)
            if name.endswith(_RESIDUAL_OUT):
                std = std / math.sqrt(2 * residual_depth)
        values = torch.empty(p.shape, dtype=torch.float32).normal_(0.0, std, generator=gen)
        if kind == "readout" and cfg.zero_readout:
            values.zero_()
        if cfg.zero_query and name.endswith(_QKV):
            values[: cfg.width].zero_()  # the query rows of the fused q, k, v projection
        p.copy_(values.to(device=p.device, dtype=p.dtype))


def param_groups(
    model: torch.nn.Module, cfg: ModelConfig, lr: float, weight_decay: float, eps: float | None = None
) -> list[dict]:
    """AdamW parameter groups; each carries ``lr_mult`` and ``eps_mult`` (see the module doc for the rules).

    Weight decay applies to matrices (embeddings included), not to norms or biases; under muP a hidden matrix's
    decay is ``weight_decay * m``. With ``eps`` given each group sets its own ``eps * eps_mult`` (without it the
    optimizer's single epsilon applies to every group, as before these rules existed).
    """
    m, d = width_mult(cfg), depth_mult(cfg)
    buckets: dict[tuple[str, float, float, float], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        kind = param_kind(name, p)
        in_block = name.startswith("blocks.")
        mult = 1.0 / m if kind == "hidden" else 1.0
        decay = (weight_decay * m if kind == "hidden" else weight_decay) if p.ndim >= 2 else 0.0
        eps_mult = (1.0 / m) * (1.0 / d if in_block else 1.0)
        group = "hidden" if kind == "hidden" else ("matrix" if p.ndim >= 2 else "vector")
        buckets.setdefault((group, mult, decay, eps_mult), []).append(p)
    groups = []
    for (group, mult, decay, eps_mult), params in buckets.items():
        entry = {"name": group, "params": params, "lr": lr * mult, "lr_mult": mult, "weight_decay": decay,
                 "eps_mult": eps_mult}
        if eps is not None:
            entry["eps"] = eps * eps_mult
        groups.append(entry)
    return groups
