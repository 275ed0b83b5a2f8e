"""Decoder-only transformer LM: causal SDPA attention, GELU or SwiGLU MLP, three block layouts.

``arch`` picks the layout:

- ``gpt2``: learned position embeddings, LayerNorm before attention and MLP, final LayerNorm (Radford et al.);
- ``llama``: rotary position embeddings (RoPE, Su et al. 2021; half-split rotation, base 10,000), RMSNorm before
  attention and MLP and at the end, no biases (Touvron et al. 2023); use with ``mlp="swiglu"`` and untied
  embeddings for the Llama recipe;
- ``olmo2``: the llama layout with OLMo 2's norm order, each branch's output normalised before it is added to
  the residual stream (``x + norm(f(x))``, OLMo Team 2024), usually with ``qk_layernorm`` and ``z_loss``.

Options small-model studies use: tied or untied readout, per-head qk-norm (LayerNorm for gpt2, RMSNorm
otherwise; Wortsman et al. 2023, "Small-scale proxies for large-scale Transformer training instabilities"), z-loss,
SP, muP and CompleteP multipliers (see ``mup.py``). The batched model (``batched_model.py``) runs the same layouts
through the functions defined here (``norm``, ``split_heads``, ``rope_tables``, ``apply_rope``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from scalefit.proxy.config import ModelConfig
from scalefit.proxy.mup import attention_scale, init_parameters, readout_multiplier, residual_multiplier

__all__ = ["GPT", "apply_rope", "lm_loss", "norm", "rope_tables", "split_heads"]

NORM_EPS = 1e-5  # LayerNorm's epsilon (torch.nn.LayerNorm's default; the gpt2 layout)
# RMSNorm's epsilon (llama, olmo2 layouts). It must be negligible against the mean square of what it normalises. In
# the olmo2 layout that is a raw branch output, whose rms at proxy widths and init (0.02) is 2e-5 to 6e-3 at step 0
# (the first block's attention reads the raw embedding): with Llama's 1e-5 (or OLMo 2's 1e-6) the norm acted as a
# fixed gain of ~300 instead of normalising, and how fast the branches left that regime differed by width and seed
# (muP coordinate-check slopes up to 1.2). 1e-12 puts the floor at rms 1e-6; it is a normal number in fp32 and bf16.
RMS_NORM_EPS = 1e-12
ROPE_BASE = 10000.0


def _norm_module(cfg: ModelConfig, dim: int) -> nn.Module:
    if cfg.arch == "gpt2":
        return nn.LayerNorm(dim, eps=NORM_EPS, bias=cfg.bias)
    return nn.RMSNorm(dim, eps=RMS_NORM_EPS)


def norm(x: torch.Tensor, cfg: ModelConfig, weight: torch.Tensor, bias: torch.Tensor | None = None) -> torch.Tensor:
    """The layout's norm over the last dim without its gain (LayerNorm for gpt2, RMSNorm otherwise), then the gain.

    ``weight`` (and ``bias``) broadcast against ``x``; the batched model passes per-member gains this way.
    """
    if cfg.arch == "gpt2":
        y = F.layer_norm(x, x.shape[-1:], eps=NORM_EPS)
    else:
        y = F.rms_norm(x, x.shape[-1:], eps=RMS_NORM_EPS)
    y = y * weight
    return y if bias is None else y + bias


@functools.lru_cache(maxsize=16)
def rope_tables(seq_len: int, d_head: int, device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """RoPE's tables ``[seq_len, d_head]`` (fp32) of the angles ``t * base^(-2i/d_head)``: the cosines repeated over
    both halves of the head, and the sines with the first half negated (see ``apply_rope``)."""
    inv_freq = ROPE_BASE ** (-torch.arange(0, d_head, 2, dtype=torch.float64) / d_head)
    angles = torch.arange(seq_len, dtype=torch.float64)[:, None] * inv_freq[None, :]
    cos, sin = angles.cos(), angles.sin()
    return torch.cat((cos, cos), dim=-1).float().to(device), torch.cat((-sin, sin), dim=-1).float().to(device)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate the two halves ``(x1, x2)`` of the last dim of ``x`` ``[..., T, d_head]`` by the position angles:
    ``(x1 cos - x2 sin, x2 cos + x1 sin)``, computed as ``x * cos + (x2, x1) * sin`` with ``rope_tables``' tables."""
    half = x.shape[-1] // 2
    swapped = torch.cat((x[..., half:], x[..., :half]), dim=-1)
    return x * cos.to(x.dtype) + swapped * sin.to(x.dtype)


def split_heads(
    qkv: torch.Tensor, cfg: ModelConfig, norm_qk: Callable[[torch.Tensor, torch.Tensor], tuple] | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Queries, keys and values ``[..., heads, T, d_head]`` from the fused projection's output ``[..., T, 3 width]``.

    ``norm_qk(q, k)`` (qk-norm) acts on them in that layout; the llama and olmo2 layouts then rotate queries and keys
    by RoPE in one pass (without qk-norm they are one slice of the projection's output).
    """
    *lead, t, _ = qkv.shape
    h = cfg.n_heads
    heads = qkv.view(*lead, t, 3 * h, cfg.d_head).transpose(-3, -2)
    q, k, v = heads.split(h, dim=-3)
    if norm_qk is not None:
        q, k = norm_qk(q, k)
    if cfg.arch != "gpt2":
        qk = heads[..., : 2 * h, :, :] if norm_qk is None else torch.cat((q, k), dim=-3)
        q, k = apply_rope(qk, *rope_tables(t, cfg.d_head, str(qkv.device))).split(h, dim=-3)
    return q, k, v


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=cfg.bias)
        self.proj = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.q_norm = _norm_module(cfg, cfg.d_head) if cfg.qk_layernorm else None
        self.k_norm = _norm_module(cfg, cfg.d_head) if cfg.qk_layernorm else None
        self.scale = attention_scale(cfg)

    def _norm_qk(self, q: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.q_norm(q), self.k_norm(k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = split_heads(self.qkv(x), self.cfg, None if self.q_norm is None else self._norm_qk)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=self.scale)
        return self.proj(y.transpose(1, 2).reshape(b, t, c))


class MLP(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.swiglu = cfg.mlp == "swiglu"
        hidden = cfg.mlp_hidden
        self.fc = nn.Linear(cfg.width, 2 * hidden if self.swiglu else hidden, bias=cfg.bias)
        self.proj = nn.Linear(hidden, cfg.width, bias=cfg.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.fc(x)
        if self.swiglu:
            gate, value = h.chunk(2, dim=-1)
            h = F.silu(gate) * value
        else:
            h = F.gelu(h, approximate="tanh")
        return self.proj(h)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.ln_1 = _norm_module(cfg, cfg.width)
        self.attn = Attention(cfg)
        self.ln_2 = _norm_module(cfg, cfg.width)
        self.mlp = MLP(cfg)
        self.post_norm = cfg.arch == "olmo2"
        self.branch_mult = residual_multiplier(cfg)

    def _branch(self, y: torch.Tensor) -> torch.Tensor:
        return y if self.branch_mult == 1.0 else y * self.branch_mult

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.post_norm:
            x = x + self._branch(self.ln_1(self.attn(x)))
            return x + self._branch(self.ln_2(self.mlp(x)))
        x = x + self._branch(self.attn(self.ln_1(x)))
        return x + self._branch(self.mlp(self.ln_2(x)))


class GPT(nn.Module):
    """The proxy LM. ``GPT(cfg, seed)`` builds and initialises it; ``model(idx)`` returns logits."""

    def __init__(self, cfg: ModelConfig, seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.cfg = cfg
        with torch.device(device):
            self.wte = nn.Embedding(cfg.vocab_size, cfg.width)
            self.wpe = nn.Embedding(cfg.seq_len, cfg.width) if cfg.arch == "gpt2" else None
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
            self.ln_f = _norm_module(cfg, cfg.width)
            self.lm_head = None if cfg.tied_embeddings else nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        self.readout_mult = readout_multiplier(cfg)
        if str(device) != "meta":
            init_parameters(self, cfg, seed)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.wte(idx) if self.wpe is None else self.wte(idx) + self.wpe.weight[:t]
        if self.cfg.input_mult != 1.0:
            x = x * self.cfg.input_mult
        for block in self.blocks:
            x = block(x)
        x = self.ln_f(x)
        weight = self.wte.weight if self.lm_head is None else self.lm_head.weight
        logits = F.linear(x, weight)
        return logits if self.readout_mult == 1.0 else logits * self.readout_mult


def lm_loss(logits: torch.Tensor, targets: torch.Tensor, z_loss: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(objective, cross-entropy in nats): cross-entropy plus ``z_loss * mean(log Z ** 2)`` if z_loss > 0."""
    logits = logits.float().view(-1, logits.shape[-1])
    ce = F.cross_entropy(logits, targets.reshape(-1))
    if z_loss > 0:
        return ce + z_loss * torch.logsumexp(logits, dim=-1).pow(2).mean(), ce
    return ce, ce
