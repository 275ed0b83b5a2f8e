"""Decoder-only transformer LM: pre-norm blocks, causal SDPA attention, GELU or SwiGLU MLP.

GPT-2 layout (learned position embeddings, LayerNorm before attention and MLP, final LayerNorm) with the
options small-model studies use: tied or untied readout, qk-layernorm and z-loss (Wortsman et al. 2023,
"Small-scale proxies for large-scale Transformer training instabilities"), SP or muP (see ``mup.py``).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from scalefit.proxy.config import ModelConfig
from scalefit.proxy.mup import attention_scale, init_parameters, readout_multiplier

__all__ = ["GPT", "lm_loss"]


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.n_heads, self.d_head = cfg.n_heads, cfg.d_head
        self.qkv = nn.Linear(cfg.width, 3 * cfg.width, bias=cfg.bias)
        self.proj = nn.Linear(cfg.width, cfg.width, bias=cfg.bias)
        self.q_norm = nn.LayerNorm(cfg.d_head, bias=cfg.bias) if cfg.qk_layernorm else None
        self.k_norm = nn.LayerNorm(cfg.d_head, bias=cfg.bias) if cfg.qk_layernorm else None
        self.scale = attention_scale(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = (z.view(b, t, self.n_heads, self.d_head).transpose(1, 2) for z in self.qkv(x).split(c, dim=2))
        if self.q_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
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
        self.ln_1 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.attn = Attention(cfg)
        self.ln_2 = nn.LayerNorm(cfg.width, bias=cfg.bias)
        self.mlp = MLP(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    """The proxy LM. ``GPT(cfg, seed)`` builds and initialises it; ``model(idx)`` returns logits."""

    def __init__(self, cfg: ModelConfig, seed: int = 0, device: str | torch.device = "cpu") -> None:
        super().__init__()
        self.cfg = cfg
        with torch.device(device):
            self.wte = nn.Embedding(cfg.vocab_size, cfg.width)
            self.wpe = nn.Embedding(cfg.seq_len, cfg.width)
            self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
            self.ln_f = nn.LayerNorm(cfg.width, bias=cfg.bias)
            self.lm_head = None if cfg.tied_embeddings else nn.Linear(cfg.width, cfg.vocab_size, bias=False)
        self.readout_mult = readout_multiplier(cfg)
        if str(device) != "meta":
            init_parameters(self, cfg, seed)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        x = self.wte(idx) + self.wpe.weight[:t]
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
