"""muP completed and CompleteP: base shapes, decay/epsilon rules, depth scaling, architectures, coordinate checks."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from scalefit.errors import ConfigError
from scalefit.proxy import batched_model as bm
from scalefit.proxy.config import ID_BASELINE, ModelConfig, TrainConfig, make_config, resolve, run_id
from scalefit.proxy.coord import coord_check, coord_check_depth, coord_slopes
from scalefit.proxy.counting import count_params
from scalefit.proxy.model import GPT, apply_rope, rope_tables
from scalefit.proxy.mup import attention_scale, param_groups, residual_multiplier

ROOT = Path(__file__).resolve().parents[2]
# Tensor Programs V's rules (the defaults before the later finite-width rules became the defaults) and the GPT-2
# layout (learned positions, LayerNorm, GELU): tests of one rule against the other name both sides
TP5 = dict(mup_attention="1/d", mup_embedding_lr="1", mup_readout_init="1/m", mup_vector_lr="1",
           mup_weight_decay="lr*wd")
LATER = dict(mup_attention="1/sqrt(d)", mup_embedding_lr="1/sqrt(m)", mup_readout_init="1/sqrt(m)",
             mup_vector_lr="1/m", mup_weight_decay="wd")
GPT2 = dict(arch="gpt2", mlp="gelu")


def _groups(cfg: ModelConfig, wd: float = 0.1, eps: float = 1e-8) -> dict[str, dict]:
    """Group settings per parameter name."""
    model = GPT(cfg, seed=0)
    names = {id(p): n for n, p in model.named_parameters()}
    return {names[id(p)]: g for g in param_groups(model, cfg, 1e-2, wd, eps=eps) for p in g["params"]}


def test_attention_scale_takes_the_base_head_size_from_the_base_shape():
    # heads growing with width: width 256 with 8 heads (d_head 32), base width 64 with 2 heads (d_head 32)
    grown = ModelConfig(width=256, n_heads=8, base_width=64, base_n_heads=2, parametrization="mup", mup_attention="1/d")
    assert attention_scale(grown) == pytest.approx(math.sqrt(32) / 32)  # 0.177, SP's scale for d_head 32
    fixed = ModelConfig(width=256, n_heads=8, base_width=64, parametrization="mup", mup_attention="1/d")
    assert attention_scale(fixed) == pytest.approx(math.sqrt(8) / 32)
    sqrt_d = ModelConfig(width=256, n_heads=8, base_width=64, parametrization="mup", mup_attention="1/sqrt(d)")
    assert attention_scale(sqrt_d) == pytest.approx(1 / math.sqrt(32))
    assert ModelConfig().mup_attention == "1/d"  # the default (Tensor Programs V)


def test_mup_scales_hidden_decay_up_and_epsilon_down_with_width():
    cfg = ModelConfig(width=256, n_heads=4, base_width=64, parametrization="mup", tied_embeddings=False, **TP5, **GPT2)
    g = _groups(cfg)
    hidden, embed, norm = g["blocks.0.attn.qkv.weight"], g["wte.weight"], g["blocks.0.ln_1.weight"]
    assert hidden["lr"] == pytest.approx(1e-2 / 4) and hidden["weight_decay"] == pytest.approx(0.1 * 4)
    assert hidden["lr"] * hidden["weight_decay"] == pytest.approx(1e-2 * 0.1)  # AdamW's shrink per step kept
    assert embed["lr"] == 1e-2 and embed["weight_decay"] == 0.1 and norm["weight_decay"] == 0.0
    assert all(x["eps"] == pytest.approx(1e-8 / 4) for x in (hidden, embed, norm))
    sp = _groups(ModelConfig(width=256, n_heads=4, tied_embeddings=False))
    assert {(x["lr"], x["weight_decay"], x["eps"]) for x in sp.values()} == {(1e-2, 0.1, 1e-8), (1e-2, 0.0, 1e-8)}


def test_completep_scales_residual_branches_and_block_epsilon_with_depth():
    cfg = ModelConfig(width=64, depth=8, n_heads=4, base_width=64, base_depth=2, parametrization="mup", init_std=0.02)
    assert residual_multiplier(cfg) == pytest.approx(0.25)
    g = _groups(cfg)
    assert g["blocks.3.mlp.fc.weight"]["eps"] == pytest.approx(1e-8 / 4)  # inside the blocks: 1/depth_mult
    assert g["wte.weight"]["eps"] == pytest.approx(1e-8) and g["ln_f.weight"]["eps"] == pytest.approx(1e-8)
    assert g["blocks.3.mlp.fc.weight"]["lr"] == pytest.approx(1e-2)  # alpha = 1: learning rates unchanged
    # the output projections' init uses the base depth, so it does not shrink as blocks are added
    deep, shallow = GPT(cfg, seed=0), GPT(ModelConfig(width=64, depth=8, n_heads=4, init_std=0.02), seed=0)
    assert deep.blocks[0].mlp.proj.weight.std().item() == pytest.approx(0.02 / 2, rel=0.05)
    assert shallow.blocks[0].mlp.proj.weight.std().item() == pytest.approx(0.02 / 4, rel=0.05)


def test_mup_embedding_lr_and_readout_init_rules():
    shape = dict(width=128, n_heads=4, base_width=32, parametrization="mup", tied_embeddings=False, **GPT2)  # m = 4
    tp5 = ModelConfig(**shape, **TP5)
    large_vocab = ModelConfig(**shape, **{**TP5, "mup_embedding_lr": "1/sqrt(m)", "mup_readout_init": "1/sqrt(m)"})
    old, new = _groups(tp5), _groups(large_vocab)
    for name in ("wte.weight", "wpe.weight"):
        assert old[name]["lr"] == pytest.approx(1e-2) and old[name]["weight_decay"] == pytest.approx(0.1)
        assert new[name]["lr"] == pytest.approx(1e-2 / 2) and new[name]["weight_decay"] == pytest.approx(0.1 * 2)
    for name in ("lm_head.weight", "blocks.0.mlp.fc.weight", "ln_f.weight"):  # the other groups keep their rules
        assert (new[name]["lr"], new[name]["weight_decay"]) == (old[name]["lr"], old[name]["weight_decay"])
    assert new["lm_head.weight"]["lr"] == pytest.approx(1e-2) and new["blocks.0.mlp.fc.weight"]["lr"] == 1e-2 / 4
    tied = _groups(ModelConfig(**{**shape, **TP5, "mup_embedding_lr": "1/sqrt(m)", "tied_embeddings": True}))
    assert tied["wte.weight"]["lr"] == 1e-2 and tied["wpe.weight"]["lr"] == pytest.approx(1e-2 / 2)  # shared: lr
    # the readout's effective init (its std times the 1/m logit multiplier): init_std / m or init_std / sqrt(m)
    std = ModelConfig().init_std
    for cfg, expected in ((tp5, std / 4), (large_vocab, std / 2)):
        model = GPT(cfg, seed=0)
        assert model.lm_head.weight.std().item() * model.readout_mult == pytest.approx(expected, rel=0.03)
    sp = ModelConfig(width=128, n_heads=4, base_width=32, tied_embeddings=False, **LATER)
    assert GPT(sp, seed=0).lm_head.weight.std().item() == pytest.approx(std, rel=0.03)  # SP ignores muP's rules
    assert {g["lr"] for g in _groups(sp).values()} == {1e-2}


def test_mup_vector_lr_and_weight_decay_rules():
    shape = dict(width=128, n_heads=4, base_width=32, parametrization="mup", tied_embeddings=False, bias=True, **GPT2)
    default = _groups(ModelConfig(**shape, **{**TP5, "mup_embedding_lr": "1/sqrt(m)"}))  # TP V's vector/decay rules
    later = _groups(ModelConfig(**shape, **{**TP5, "mup_embedding_lr": "1/sqrt(m)", "mup_vector_lr": "1/m",
                                            "mup_weight_decay": "wd"}))
    for name in ("ln_f.weight", "blocks.0.ln_1.weight", "blocks.0.mlp.fc.bias"):  # norm gains and a bias
        scaled = 1 / 4 if name.endswith("weight") else 1.0  # biases keep lr (fan-in 1 input weights)
        assert default[name]["lr"] == pytest.approx(1e-2) and later[name]["lr"] == pytest.approx(1e-2 * scaled)
        assert later[name]["weight_decay"] == 0.0  # never decayed
    # biases left the 1/m rule (session 6): such a run's id carries the new bias rule, so no older one is taken for it
    bias = dict(parametrization="mup", base_width=32, width=64, bias=True, **GPT2)
    old_bias_id = "ae914944d6e3"  # this config's id before the bias rule moved (its values explicit)
    assert run_id(TrainConfig(**bias)) != old_bias_id
    for name, lr_mult in (("blocks.0.attn.qkv.weight", 1 / 4), ("wte.weight", 1 / 2), ("lm_head.weight", 1.0)):
        assert default[name]["weight_decay"] == pytest.approx(0.1 / lr_mult)  # lr * wd the base width's
        assert later[name]["weight_decay"] == pytest.approx(0.1)  # wd kept: lr * wd follows the LR
        assert later[name]["lr"] == pytest.approx(default[name]["lr"])  # the matrices' LRs are not touched
    sp = _groups(ModelConfig(**{**shape, "parametrization": "sp"}, **LATER))
    assert {g["lr"] for g in sp.values()} == {1e-2} and {g["weight_decay"] for g in sp.values()} == {0.0, 0.1}


@pytest.mark.parametrize("arch", ["gpt2", "llama", "olmo2"])
def test_every_scaling_equals_sp_at_the_base_shape(arch):
    shape = dict(width=64, depth=2, n_heads=4, seq_len=16, base_width=64, arch=arch, mlp="swiglu",
                 tied_embeddings=False, qk_layernorm=arch == "olmo2")
    sp = ModelConfig(parametrization="sp", **shape)
    for other in (ModelConfig(parametrization="mup", **shape),
                  ModelConfig(parametrization="mup", base_depth=2, **shape),
                  ModelConfig(parametrization="mup", **TP5, **shape),
                  ModelConfig(parametrization="mup", **LATER, **shape)):
        a, b = GPT(sp, seed=3), GPT(other, seed=3)
        idx = torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0))
        assert torch.equal(a(idx), b(idx))
        ga = [(x["lr"], x["weight_decay"], x["eps"]) for x in param_groups(a, sp, 1e-2, 0.1, eps=1e-8)]
        gb = [(x["lr"], x["weight_decay"], x["eps"]) for x in param_groups(b, other, 1e-2, 0.1, eps=1e-8)]
        assert ga == gb


def test_zero_init_options():
    cfg = ModelConfig(width=32, n_heads=2, tied_embeddings=False, zero_readout=True, zero_query=True)
    model = GPT(cfg, seed=0)
    assert torch.count_nonzero(model.lm_head.weight) == 0
    qkv = model.blocks[0].attn.qkv.weight
    assert torch.count_nonzero(qkv[:32]) == 0 and torch.count_nonzero(qkv[32:]) == qkv[32:].numel()


@pytest.mark.parametrize("arch", ["llama", "olmo2"])
def test_llama_layouts_count_batch_and_have_no_position_table(arch):
    cfg = ModelConfig(width=64, depth=2, n_heads=4, seq_len=16, arch=arch, mlp="swiglu", tied_embeddings=False,
                      qk_layernorm=True, parametrization="mup", base_width=32, base_depth=1, input_mult=2.0)
    members = [GPT(cfg, seed=s) for s in (0, 1)]
    assert members[0].wpe is None and isinstance(members[0].ln_f, torch.nn.RMSNorm)
    assert sum(p.numel() for p in members[0].parameters()) == count_params(cfg)["n_params"]
    idx = torch.randint(0, 256, (2, 3, 16), generator=torch.Generator().manual_seed(1))
    expected = torch.stack([m(idx[k]) for k, m in enumerate(members)]).detach()
    assert torch.equal(bm.forward(bm.stack(members), idx, cfg).detach(), expected)


def test_rope_scores_depend_on_relative_position_only():
    gen = torch.Generator().manual_seed(2)
    q, k = torch.randn(1, 1, 8, generator=gen), torch.randn(1, 1, 8, generator=gen)
    cos, sin = rope_tables(16, 8)
    rq, rk = apply_rope(q.expand(1, 16, 8), cos, sin)[0], apply_rope(k.expand(1, 16, 8), cos, sin)[0]
    scores = rq @ rk.T  # scores[i, j] = <rope(q, i), rope(k, j)>
    for offset in (0, 3, -5):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal))
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 3)[0])


@pytest.mark.parametrize("sets, match", [
    (["arch=llama", "bias=true"], "no biases"),
    (["arch=llama", "width=36", "n_heads=4"], "even head size"),
    (["zero_readout=true", "tied_embeddings=true"], "untied readout"),
    (["parametrization=mup", "base_width=96", "base_n_heads=5"], "base head count"),
    (["base_depth=-1"], "base_depth"),
    (["input_mult=0"], "input_mult"),
    (["arch=mamba"], "unknown arch"),
    (["cooldown=cubic"], "unknown cooldown"),
    (["mup_attention=1/d2"], "unknown mup_attention"),
    (["mup_embedding_lr=1/m"], "unknown mup_embedding_lr"),
    (["mup_readout_init=0"], "unknown mup_readout_init"),
    (["mup_vector_lr=1/sqrt(m)"], "unknown mup_vector_lr"),
    (["mup_weight_decay=lr"], "unknown mup_weight_decay"),
])  # fmt: skip
def test_bad_parametrization_settings_are_config_errors(sets, match):
    with pytest.raises(ConfigError, match=match):
        make_config(sets=sets)


def test_committed_runs_keep_their_ids_and_default_changes_move_none():
    # a stored config.json written before a late field existed lacks it: the field had its ID_BASELINE value then
    configs = sorted((ROOT / "runs").glob("*/*/config.json"))
    fields = set(TrainConfig.__dataclass_fields__)
    seen = {"sp": 0, "mup": 0}
    for path in configs:
        stored = json.loads(path.read_text())
        cfg = TrainConfig(**{**ID_BASELINE, **{k: v for k, v in stored.items() if k in fields}})
        seen[cfg.parametrization] += 1
        assert run_id(cfg) == stored["run_id"], path
    assert seen["sp"] >= 10 and seen["mup"] >= 10, seen
    # runs of the former defaults (gpt2, GELU, TP V's muP rules) keep the ids they had before the defaults moved
    old_sp = TrainConfig(arch="gpt2", mlp="gelu", corpus="kjv", init_std=0.02, width=64, depth=2, tied_embeddings=True)
    assert run_id(old_sp) == "e282ba50f27d"
    old_mup = TrainConfig(arch="gpt2", mlp="gelu", corpus="kjv", init_std=0.02, width=64, depth=2,
                          parametrization="mup", base_width=32, **TP5)
    assert run_id(old_mup) == "09f08a380546"
    assert run_id(TrainConfig(arch="gpt2")) != run_id(TrainConfig())  # the layout does enter the id


@pytest.mark.parametrize("option", ["mup_attention=1/d", "mup_attention=1/sqrt(d)", "mup_embedding_lr=1",
                                    "mup_embedding_lr=1/sqrt(m)", "mup_readout_init=1/m", "mup_readout_init=1/sqrt(m)",
                                    "mup_vector_lr=1/m", "mup_weight_decay=wd"])
def test_mup_only_options_never_enter_an_sp_run_id(option):
    key, value = option.split("=")
    assert run_id(make_config(sets=[option])) == run_id(TrainConfig())  # SP computes the same either way
    mup = dict(parametrization="mup", base_width=64)
    changed = run_id(TrainConfig(**mup, **{key: value})) != run_id(TrainConfig(**mup))
    assert changed == (value != getattr(resolve(TrainConfig(**mup)), key))  # under muP another rule moves the id


def test_layout_rules_version_enters_the_llama_layouts_run_ids_only(monkeypatch):
    from scalefit.proxy import config

    llama, olmo2, gpt2 = TrainConfig(arch="llama"), TrainConfig(arch="olmo2"), TrainConfig(arch="gpt2")
    before = [run_id(c) for c in (llama, olmo2, gpt2)]
    monkeypatch.setattr(config, "LAYOUT_RULES", config.LAYOUT_RULES + 1)  # a run computed by an older layout
    after = [run_id(c) for c in (llama, olmo2, gpt2)]
    assert after[0] != before[0] and after[1] != before[1] and after[2] == before[2]


# Coordinate checks: cheap shapes (the same batches at every width), one CPU thread (conftest). One seed's slopes
# scatter by about +-0.3 at these widths (each width draws its own matrices; width 32 has few), so muP's activation
# scales are averaged over 4 seeds before the slopes are fitted (the mup package's nseeds); SP's growth is far
# above that scatter and one seed shows it. What remains is finite-width: SwiGLU's output (quadratic in its two
# pre-activations' updates) shrinks from width 32 to 64 by 2^-0.4 at 3x this LR, then 2^-0.3, -0.2, -0.04 per
# doubling up to 512 (a wrong exponent would keep its slope as width grows).
SHAPE = dict(steps=5, seq_len=16, batch_size=4)
MUP_SEEDS = 4
VARIANTS = {  # on the defaults (llama layout, SwiGLU, untied, the later muP rules) unless a variant says otherwise
    "default": {},
    "tied": {"tied_embeddings": True},
    "gelu": {"mlp": "gelu"},
    "qk-norm": {"qk_layernorm": True},
    "bias": {"bias": True},
    "init-2x": {"init_std": 0.08},
    "tp5-rules": TP5,  # Tensor Programs V's rules
    "zero-init": {"zero_readout": True, "zero_query": True},
    "depth-4": {"depth": 4, "base_depth": 2},  # CompleteP's residual multipliers on, at depth 4
    "gpt2": GPT2,
    "gpt2-tied": {**GPT2, "tied_embeddings": True},
    "gpt2-tp5": {**GPT2, **TP5},  # the defaults before session 6
    "olmo2": {"arch": "olmo2", "qk_layernorm": True},
}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_coordinate_check_every_variant(variant):
    widths = [32, 64, 128, 256]
    mup = coord_slopes(coord_check(widths, parametrization="mup", options=VARIANTS[variant], seeds=MUP_SEEDS, **SHAPE))
    sp = coord_slopes(coord_check(widths, parametrization="sp", options=VARIANTS[variant], **SHAPE))
    assert max(abs(s) for s in mup.values()) < 0.3, mup
    branches = [s for k, s in sp.items() if k.endswith((".attn", ".mlp"))]
    assert min(branches) > 0.6, sp  # every sublayer's output grows with width under SP


@pytest.mark.slow
def test_swiglu_shrink_under_mup_is_finite_width():
    # what remains of SwiGLU's shrink with width under muP fades as width grows (a wrong exponent would not)
    widths = [32, 64, 128, 256, 512]
    options = {**GPT2, **TP5, "mlp": "swiglu", "init_std": 0.04}  # measured under the former defaults
    frame = coord_check(widths, parametrization="mup", lr=3e-2, seeds=3, options=options, **SHAPE)
    last = frame[(frame["step"] == SHAPE["steps"]) & (frame["layer"] == "block1.mlp")].set_index("width")["l1"]
    per_doubling = [math.log2(last[b] / last[a]) for a, b in zip(widths, widths[1:])]
    assert per_doubling[0] < -0.25 and abs(per_doubling[-1]) < 0.15, per_doubling


def test_olmo2_post_norm_normalises_from_the_first_step():
    # the cause of olmo2's width-dependent muP slopes (up to 1.2 for one seed) was RMSNorm's epsilon: the first
    # block's attention output has rms ~5e-5 at init at these widths, and with eps 1e-5 the norm after it was a fixed
    # gain of ~300 for the first steps; now it normalises: the normalised branch has rms 1 (its gain) at every width
    for width in (32, 256):
        cfg = ModelConfig(width=width, depth=2, n_heads=4, seq_len=16, arch="olmo2", mlp="swiglu",
                          tied_embeddings=False, qk_layernorm=True, parametrization="mup", base_width=32,
                          init_std=0.02)
        model = GPT(cfg, seed=0)
        x = model.wte(torch.randint(0, 256, (2, 16), generator=torch.Generator().manual_seed(0)))
        branch = model.blocks[0].attn(x)
        assert branch.pow(2).mean().sqrt() < 1e-4  # tiny, as the comment says
        normalised = model.blocks[0].ln_1(branch).pow(2).mean(dim=-1).sqrt()
        torch.testing.assert_close(normalised, torch.ones_like(normalised), rtol=1e-3, atol=0)


def test_coordinate_check_averages_seeds():
    kw = dict(parametrization="mup", steps=1, seq_len=8, batch_size=2)
    mean = coord_check([32, 64], seeds=2, **kw)
    one, two = coord_check([32, 64], seed=0, **kw), coord_check([32, 64], seed=1, **kw)
    assert len(mean) == len(one) and not one["l1"].equals(two["l1"])
    assert mean["l1"].to_numpy() == pytest.approx((one["l1"].to_numpy() + two["l1"].to_numpy()) / 2, rel=1e-12)
    with pytest.raises(ConfigError, match="seeds must be a positive integer"):
        coord_check([32, 64], seeds=0, **kw)


def test_coordinate_check_other_base_width():
    widths = [32, 64, 128, 256]
    mup = coord_slopes(coord_check(widths, parametrization="mup", base_width=64, seeds=MUP_SEEDS, **SHAPE))
    assert max(abs(s) for s in mup.values()) < 0.3, mup


def test_depth_coordinate_check_flat_under_completep():
    depths = [2, 4, 8]
    complete = coord_slopes(coord_check_depth(depths, width=64, **SHAPE))
    plain = coord_slopes(coord_check_depth(depths, width=64, base_depth=0, **SHAPE))
    assert abs(complete["last_block"]) <= 0.2, complete
    assert plain["last_block"] > 0.6, plain  # without depth scaling the residual stream grows with depth
    with pytest.raises(ConfigError, match="unknown model option"):
        coord_check([32, 64], options={"widht": 3})


def test_the_coordinate_check_starts_mup_at_its_run_default_init():
    from scalefit.proxy.coord import _model_config

    mup = _model_config({"parametrization": "mup", "base_width": 32}, width=128)
    assert mup.init_std == resolve(TrainConfig(parametrization="mup", base_width=32)).init_std == 0.9 / math.sqrt(32)
    assert _model_config({}, width=128).init_std == 0.04  # SP's
    assert _model_config({"parametrization": "mup", "init_std": 0.02}, width=128).init_std == 0.02
