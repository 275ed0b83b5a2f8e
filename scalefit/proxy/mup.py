"""Standard (SP), maximal-update (muP) and depth (CompleteP) parametrizations: init, multipliers, optimizer groups.

muP follows Yang et al. (2022, "Tensor Programs V", Table 3 / the ``mup`` package) for Adam, with width
multiplier ``m = width / base_width``; five options each replace one of its rules with a later finite-width one,
and three of those are the defaults (``mup_embedding_lr="1/sqrt(m)"``, ``mup_vector_lr="1/m"``,
``mup_weight_decay="wd"``; the readout keeps Tensor Programs V's init and the attention its 1/d scale, see below):

- hidden matrices (attention and MLP weights) are initialised with std ``init_std / sqrt(m)`` (fan-in scaled
  relative to the base width) and trained with learning rate ``lr / m``. muP's default ``init_std`` (``auto``) is
  ``MUP_INIT_GAIN / sqrt(base_width)`` (config.py): a fan-in gain (std x sqrt(fan-in)) of 0.9, which this rule
  keeps at every width, near u-muP's unit scaling (Blake et al. 2024), where SP's 0.04 is a gain of 0.23 at base
  width 32 (see below);
- embeddings (token and position) are initialised with std ``init_std`` and trained with learning rate ``lr``;
  ``mup_embedding_lr="1/sqrt(m)"`` trains them at ``lr / sqrt(m)``: u-muP's embedding rule (Blake et al. 2024),
  which Hayou & Liu (2025, "Optimal embedding learning rate in LLMs: the effect of vocabulary size") derive for a
  vocabulary larger than the width, the case of every proxy here (256 bytes or more, widths 32-256). A tied token
  embedding keeps ``lr`` (it is also the readout);
- norm gains and biases keep their init and learning rate ``lr``; ``mup_vector_lr="1/m"`` trains the norm gains
  at ``lr / m`` as the hidden matrices (SP's optimal LR falls with width for every parameter it trains); biases
  keep ``lr`` (a bias is an input weight of fan-in 1: at ``lr / m`` the first MLP's output shrank with width,
  coordinate-check slope -0.31 against -0.20, widths 32-256, 4 seeds);
- the readout is multiplied by ``output_mult / m`` in the forward pass and trained with learning rate ``lr``
  (effective rate ``lr / m``); its weights start at std ``init_std``, an effective std of ``init_std / m``;
  ``mup_readout_init="1/sqrt(m)"`` starts them at ``init_std * sqrt(m)``, an effective ``init_std / sqrt(m)``:
  SP's fan-in init, as in Everett et al. 2024's SP with per-layer learning rates. A tied readout shares the input
  embedding's matrix (trained as an embedding) exactly as ``mup``'s ``MuSharedReadout`` does;
- every matrix's decoupled weight decay is divided by its learning-rate multiplier (``wd * m`` for hidden
  matrices, ``wd * sqrt(m)`` for embeddings under the u-muP rule), so that AdamW's per-step shrink ``lr * wd``
  stays the base width's (the ``mup`` package's ``MuAdamW`` does the same for hidden matrices);
  ``mup_weight_decay="wd"`` keeps every matrix's ``weight_decay`` instead, so its per-step shrink follows its LR
  (``MuAdamW(decoupled_wd=True)``);
- Adam's epsilon is divided by ``m`` for every parameter (gradients shrink as ``1/m``; Everett et al. 2024,
  "Scaling exponents across parameterizations and optimizers"), so it never dominates the update at width;
- attention logits are scaled by ``1 / d_head`` (``mup_attention="1/d"``) times ``sqrt(d_head_base)``, the base
  shape's head size ``base_width / base_n_heads``, so the scale equals SP's at the base shape and stays right
  when heads grow with width (the default); ``mup_attention="1/sqrt(d)"`` keeps SP's scale.

The defaults of this release (the 1/d attention scale and ``init_std=auto``) were chosen on the llama layout,
``kjv+stdlib``, ``lr-transfer-cpu``'s shape (base width 32, 4 heads, depth 2, 512k tokens, untied), widths
32-256: at SP's init 0.04 muP's best loss stopped falling at width 64 (1.913, 1.846, 1.855, 1.790) and width 128
wanted 4x that init; at 4x (0.16, gain 0.9) with SP's 1/sqrt(d) attention muP's best loss fell (1.909, 1.753,
1.691, 1.650, 2 seeds) but its optimal LR still drifted (lr-transfer slope -0.32 [-0.44, -0.27]); at 4x with 1/d
its argmin was 2^-6 at every width (seed 0; benchmarks/results/mup_init_transfer_seeds.json). So the 1/d scale,
which cost 0.054 nats on the GPT-2 layout at the base width's small init (below), is what holds the optimal LR in
place once the init's gain is near 1. The measurement of these defaults is benchmarks/width_transfer_defaults.py
(results/width_transfer_defaults.json).

What follows was measured on the GPT-2 layout and the KJV, before these defaults (``diag_mup_width.py``,
``bench_width_transfer.py``):

The ``width-transfer-cpu`` preset sets all five later rules (and ``init_std`` 0.04). The last two were measured at
width 128 with the other three on (2 seeds, init 0.08, lr 2^-6; ``diag_mup_width.py`` variants ``wd_flat``/
``vec_m``, in benchmarks/results/diag_mup_width.json): keeping the hidden matrices' decay 1.680 -> 1.671, with
the norm gains at ``lr / m`` too 1.664 (SP's best 1.652). Measured there
(benchmarks/results/diag_mup_width.json; base width 32, 4 heads, one seed, loss after 512k tokens at width 128,
lr 2^-6, init 0.08, 1/sqrt(d) unless said): with Tensor Programs V's rules muP's best loss did not fall from width
32 to 64 and trailed SP's best (1.645) by 0.09 nats even at its best init; the readout's effective init
``init_std / m`` cost the most (1/sqrt(m): -0.042 nats; width 32 itself prefers a 4x larger readout init), then
the embedding learning rate (1/sqrt(m): -0.039; 1/m: -0.025) and the 1/d attention scale at heads of 8-32
(+0.054 against 1/sqrt(d)); together 1.668 (seed 1: 1.691 against SP's 1.660). A readout init 4x init_std at
every width (width 32's best of 1x-8x) helps SP as much (width 128: 1.623 against muP's 1.652), so it does not
close the gap. The fan-in readout init is not a default because the coordinate check flags it (muP slopes over
widths 32-256, 4 seeds, the other four rules on: olmo2 -0.34 in its first block's attention, against -0.25 with
TP V's readout init; the llama layout with qk-norm -0.35 in the first MLP, against -0.22); the other four rules
pass it in every variant of tests/proxy/test_parametrization.py. A tied readout's logits shrink
(-0.48) unless the shared matrix keeps ``lr`` (which it does). The base width's best ``init_std`` does not
transfer under any of these rule sets: width 32's best is 1x, widths 128's and 256's 2x of {0.5x, 1x, 2x}, and
4x at width 256 is better still (1.573 against 1.617 at 2x, 2 seeds; benchmarks/results/
bench_width_transfer.json and diag_mup_width.json): the data prefer the hidden matrices' std nearly constant in
width here, against the fan-in rule.

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
    "lr_multiplier",
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


def lr_multiplier(cfg: ModelConfig, name: str, param: torch.Tensor) -> float:
    """Learning-rate multiplier of parameter ``name``: ``1/m`` for hidden matrices, ``1/sqrt(m)`` for embeddings
    with ``mup_embedding_lr="1/sqrt(m)"`` (not a tied token embedding: it is also the readout, whose effective rate
    the 1/m logit multiplier already makes ``lr / m``), ``1/m`` for norm gains with ``mup_vector_lr="1/m"``
    (biases keep 1), else 1 (always 1 under SP)."""
    m, kind = width_mult(cfg), param_kind(name, param)
    if kind == "hidden":
        return 1.0 / m
    shared = name == "wte.weight" and cfg.tied_embeddings
    if kind == "embedding" and cfg.mup_embedding_lr == "1/sqrt(m)" and not shared:
        return 1.0 / math.sqrt(m)
    if kind == "vector" and cfg.mup_vector_lr == "1/m" and not name.endswith("bias"):
        return 1.0 / m
    return 1.0


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
        if kind == "readout" and cfg.mup_readout_init == "1/sqrt(m)":
            std = std * math.sqrt(m)  # times the forward pass's 1/m: an effective std of init_std / sqrt(m)
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

    Weight decay applies to matrices (embeddings included), not to norms or biases; under muP a matrix's decay is
    ``weight_decay / lr_mult`` (``weight_decay * m`` for hidden matrices), so AdamW's per-step shrink ``lr * wd``
    is the base width's (with ``mup_weight_decay="wd"``: ``weight_decay`` itself, so the shrink follows the LR).
    With ``eps`` given each group sets its own ``eps * eps_mult`` (without it the optimizer's single epsilon applies
    to every group, as before these rules existed).
    """
    m, d = width_mult(cfg), depth_mult(cfg)
    buckets: dict[tuple[str, float, float, float], list[torch.nn.Parameter]] = {}
    for name, p in model.named_parameters():
        kind = param_kind(name, p)
        in_block = name.startswith("blocks.")
        mult = lr_multiplier(cfg, name, p)
        decay = 0.0 if p.ndim < 2 else weight_decay / mult if cfg.mup_weight_decay == "lr*wd" else weight_decay
        eps_mult = (1.0 / m) * (1.0 / d if in_block else 1.0)
        group = "matrix" if p.ndim >= 2 else "vector"
        if kind == "hidden" or (kind == "embedding" and mult != 1.0):
            group = kind
        buckets.setdefault((group, mult, decay, eps_mult), []).append(p)
    groups = []
    for (group, mult, decay, eps_mult), params in buckets.items():
        entry = {"name": group, "params": params, "lr": lr * mult, "lr_mult": mult, "weight_decay": decay,
                 "eps_mult": eps_mult}
        if eps is not None:
            entry["eps"] = eps * eps_mult
        groups.append(entry)
    return groups
