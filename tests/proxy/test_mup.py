"""SP and muP: identical at the base width, width-scaled elsewhere, and the coordinate check."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from scalefit.proxy.config import ModelConfig
from scalefit.proxy.coord import coord_check, coord_slopes
from scalefit.proxy.data import load_corpus, sample_batch
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.mup import attention_scale, param_groups, readout_multiplier


def _train(cfg: ModelConfig, steps: int = 3) -> tuple[GPT, list[float]]:
    model = GPT(cfg, seed=1)
    opt = torch.optim.AdamW(param_groups(model, cfg, 1e-2, 0.1), betas=(0.9, 0.95))
    rng = np.random.default_rng(0)
    losses = []
    for _ in range(steps):
        batch = torch.from_numpy(sample_batch(load_corpus("pydoc").train, 4, cfg.seq_len, rng))
        loss = lm_loss(model(batch[:, :-1]), batch[:, 1:])[0]
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return model, losses


@pytest.mark.parametrize("tied", [True, False])
def test_mup_equals_sp_at_base_width(tied):
    shape = dict(width=64, depth=2, n_heads=4, seq_len=32, base_width=64, tied_embeddings=tied)
    sp, mup = ModelConfig(parametrization="sp", **shape), ModelConfig(parametrization="mup", **shape)
    assert attention_scale(sp) == attention_scale(mup) and readout_multiplier(mup) == 1.0
    groups_sp, groups_mup = (param_groups(GPT(c), c, 1e-2, 0.1) for c in (sp, mup))
    assert [(g["lr"], g["weight_decay"], len(g["params"])) for g in groups_sp] == [
        (g["lr"], g["weight_decay"], len(g["params"])) for g in groups_mup
    ]
    (model_sp, losses_sp), (model_mup, losses_mup) = _train(sp), _train(mup)
    assert losses_sp == losses_mup
    for (name, a), (_, b) in zip(model_sp.state_dict().items(), model_mup.state_dict().items()):
        assert torch.equal(a, b), name


def test_mup_scales_with_width():
    cfg = ModelConfig(width=256, n_heads=4, base_width=64, parametrization="mup", mup_attention="1/d", init_std=0.02)
    assert readout_multiplier(cfg) == pytest.approx(0.25)
    assert attention_scale(cfg) == pytest.approx(math.sqrt(16) / 64)  # sqrt(d_head_base) / d_head
    model = GPT(cfg, seed=0)
    groups = {g["name"]: g for g in param_groups(model, cfg, 1e-2, 0.1)}
    assert groups["hidden"]["lr"] == pytest.approx(1e-2 / 4) and groups["matrix"]["lr"] == 1e-2
    assert groups["vector"]["weight_decay"] == 0.0
    hidden = model.blocks[0].attn.qkv.weight
    assert hidden.std().item() == pytest.approx(0.02 / 2, rel=0.05)  # init_std / sqrt(width_mult)
    assert model.wte.weight.std().item() == pytest.approx(0.02, rel=0.05)
    sp = GPT(ModelConfig(width=256, n_heads=4, init_std=0.02), seed=0)
    assert sp.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_coordinate_check_flat_under_mup_growing_under_sp():
    widths = [32, 64, 128, 256]
    mup = coord_slopes(coord_check(widths, parametrization="mup", steps=4, seq_len=32, batch_size=4))
    sp = coord_slopes(coord_check(widths, parametrization="sp", steps=4, seq_len=32, batch_size=4))
    layers = {"embedding", "logits", "last_block"} | {f"block{i}{s}" for i in (0, 1) for s in ("", ".attn", ".mlp")}
    assert set(mup) == layers
    assert max(abs(s) for s in mup.values()) < 0.3, mup
    blocks = [sp[k] for k in sp if k.startswith("block")]
    assert min(blocks) > 0.6, sp  # hidden activations grow with width under SP
    assert sp["logits"] > 0.3, sp
