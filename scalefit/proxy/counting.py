"""Exact parameter counts and training FLOPs per token of a proxy transformer, from its shape alone.

No torch here: counts are closed-form in the shape, and the tests check them against the model's real
tensors and against published sizes (GPT-2 small: 124,439,808 parameters).

Non-embedding parameters follow Kaplan et al. (2020, "Scaling Laws for Neural Language Models", §2.1):
everything except the token and (learned, gpt2 layout) position embeddings (and, when untied, the readout
matrix, which is the same vocab x width embedding-like table). RoPE (llama, olmo2 layouts) has no parameters.

Training FLOPs per token follow Kaplan et al. (2020), Table 1 and Eq. 2.2: the forward pass costs
``2N + 2 n_layer n_ctx d_attn`` (the second term is causal attention: query-key logits and the weighted
sum of values) plus ``2 d_model n_vocab`` for the de-embedding (logits) matmul, and the backward pass
twice the forward, so ``C_token = 6N + 6 n_layer n_ctx d_attn + 6 d_model n_vocab``. Hoffmann et al.
(2022, App. F) count the same terms (they count full, non-causal attention, i.e. twice our attention
term); both agree that 6N dominates once d_model >> n_ctx.
"""

from __future__ import annotations

from scalefit.proxy.config import ModelConfig

__all__ = ["count_params", "flops_per_token", "training_flops"]


def _block_params(cfg: ModelConfig) -> int:
    d, h, b = cfg.width, cfg.mlp_hidden, int(cfg.bias)
    norms = 2 * d * (1 + b)  # ln_1, ln_2
    attn = d * 3 * d + 3 * d * b + d * d + d * b  # qkv and output projection
    qk_norm = 2 * cfg.d_head * (1 + b) if cfg.qk_layernorm else 0
    n_in = 2 * h if cfg.mlp == "swiglu" else h  # SwiGLU's fc produces gate and value
    mlp = d * n_in + n_in * b + h * d + d * b
    return norms + attn + qk_norm + mlp


def count_params(cfg: ModelConfig) -> dict[str, int]:
    """Parameter counts: ``n_params`` (all, tied readout counted once), ``n_params_nonembed``, ``n_embed``."""
    d = cfg.width
    positions = cfg.seq_len * d if cfg.arch == "gpt2" else 0  # learned positions; RoPE has no parameters
    n_embed = cfg.vocab_size * d + positions + (0 if cfg.tied_embeddings else cfg.vocab_size * d)
    n_nonembed = cfg.depth * _block_params(cfg) + d * (1 + int(cfg.bias))  # blocks + final LayerNorm
    return {"n_params": n_embed + n_nonembed, "n_params_nonembed": n_nonembed, "n_embed": n_embed}


def flops_per_token(cfg: ModelConfig) -> int:
    """Training (forward + backward) FLOPs per token: ``6N + 6 n_layer n_ctx d + 6 d n_vocab`` (Kaplan 2020)."""
    n = count_params(cfg)["n_params_nonembed"]
    return 6 * n + 6 * cfg.depth * cfg.seq_len * cfg.width + 6 * cfg.width * cfg.vocab_size


def training_flops(cfg: ModelConfig, n_tokens: int) -> float:
    """Total training FLOPs of ``n_tokens`` tokens."""
    return float(flops_per_token(cfg)) * float(n_tokens)
