"""Parameter and FLOP counts: closed forms vs the model's real tensors and published sizes."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from scalefit.proxy.config import ModelConfig
from scalefit.proxy.counting import count_params, flops_per_token, training_flops
from scalefit.proxy.model import GPT

SHAPES = [  # the gpt2 layout, which has every option (the llama layouts: test_parametrization)
    dict(arch="gpt2", mlp=mlp, tied_embeddings=tied, bias=bias, qk_layernorm=qk)
    for mlp, tied, bias, qk in itertools.product(["gelu", "swiglu"], [True, False], [True, False], [True, False])
]


@pytest.mark.parametrize("options", SHAPES)
def test_counts_match_real_tensors(options):
    cfg = ModelConfig(vocab_size=300, width=48, depth=3, n_heads=4, seq_len=40, mlp_ratio=3.5, **options)
    model = GPT(cfg, device="meta")
    counts = count_params(cfg)
    assert counts["n_params"] == sum(p.numel() for p in model.parameters())
    embed = {"wte.weight", "wpe.weight", "lm_head.weight"}
    nonembed = sum(p.numel() for n, p in model.named_parameters() if n not in embed)
    assert counts["n_params_nonembed"] == nonembed
    assert counts["n_embed"] + counts["n_params_nonembed"] == counts["n_params"]


def test_gpt2_published_sizes():
    # GPT-2 small and medium as released (Radford et al. 2019; Hugging Face `gpt2`, `gpt2-medium`).
    gpt2 = dict(arch="gpt2", mlp="gelu", tied_embeddings=True, bias=True, vocab_size=50257, seq_len=1024)
    small = ModelConfig(width=768, depth=12, n_heads=12, **gpt2)
    medium = ModelConfig(width=1024, depth=24, n_heads=16, **gpt2)
    assert count_params(small)["n_params"] == 124_439_808
    assert count_params(medium)["n_params"] == 354_823_168
    assert sum(p.numel() for p in GPT(small, device="meta").parameters()) == 124_439_808
    # Kaplan et al. 2020: N ~= 12 n_layer d_model^2 non-embedding parameters (85M for GPT-2 small)
    assert count_params(small)["n_params_nonembed"] == pytest.approx(12 * 12 * 768**2, rel=0.01)


def test_flops_match_counted_matmuls():
    cfg = ModelConfig(vocab_size=256, width=64, depth=2, n_heads=4, seq_len=32)
    model = GPT(cfg)
    x = torch.randint(0, 256, (2, cfg.seq_len))
    with FlopCounterMode(display=False) as counter:
        model(x).float().sum().backward()
    counts = counter.get_flop_counts()["Global"]
    matmul = sum(counts.values()) / x.numel()  # linear layers and logits (CPU SDPA is not counted)
    d, n_layer, t = cfg.width, cfg.depth, cfg.seq_len
    norm_gains = (2 * n_layer + 1) * d  # part of N, but they do no matmul
    assert matmul == flops_per_token(cfg) - 6 * n_layer * t * d - 6 * norm_gains


def test_six_n_dominates_at_scale():
    big = ModelConfig(vocab_size=32000, width=4096, depth=32, n_heads=32, seq_len=2048)
    n = count_params(big)["n_params_nonembed"]
    assert flops_per_token(big) / (6 * n) == pytest.approx(1.0, abs=0.1)
    assert training_flops(big, 10**9) == pytest.approx(flops_per_token(big) * 1e9)
