"""K proxy runs as one batched model: each member's files are those of training it alone (fp32, CPU)."""

from __future__ import annotations

import dataclasses
import json

import pandas as pd
import pytest
import torch

from scalefit.errors import ConfigError
from scalefit.proxy import batched_model as bm
from scalefit.proxy.batched import train_batch
from scalefit.proxy.config import TrainConfig
from scalefit.proxy.group import check_group, group_key
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.train import train_run
from tests.proxy.conftest import tiny

CURVE = ["step", "tokens", "lr", "train_loss", "loss"]


def _curve(out, result) -> pd.DataFrame:
    return pd.read_csv(out / result["name"] / result["run_id"] / "curve.csv")


def _members(**shared):
    """Four members of one shape: different LRs, schedules, seeds and token budgets (all train stably)."""
    return [
        tiny(lr=3e-3, **shared),
        tiny(lr=2e-3, schedule="wsd", seed=1, **shared),
        tiny(lr=4e-3, schedule="constant", seed=2, warmup_frac=0.1, n_tokens=25 * 8 * 32, **shared),
        tiny(lr=1e-3, schedule="linear", seed=3, init_std=0.03, min_lr_ratio=0.0, **shared),
    ]


@pytest.mark.parametrize("shared", [{}, {"parametrization": "mup", "base_width": 16}], ids=["sp", "mup"])
def test_members_match_their_single_runs(tmp_path, shared):
    configs = _members(**shared)
    batched = train_batch(configs, tmp_path / "batched")
    for cfg, row in zip(configs, batched):
        alone = train_run(cfg, tmp_path / "alone")
        assert row["run_id"] == alone["run_id"] and row["status"] == alone["status"] == "ok"
        assert row["steps"] == alone["steps"] and row["n_tokens"] == alone["n_tokens"]
        a, b = _curve(tmp_path / "batched", row), _curve(tmp_path / "alone", alone)
        assert a["step"].tolist() == b["step"].tolist()
        pd.testing.assert_frame_equal(a[CURVE], b[CURVE], rtol=1e-4, atol=0)
        assert row["loss"] == pytest.approx(alone["loss"], rel=1e-4)
        assert row["err_cloze"] == pytest.approx(alone["err_cloze"], abs=1 / 16 + 1e-9)  # 16 items: one may flip
        keys = set(row) - {"tokens_per_s", "wall_s", "loss", "train_loss", "bits_per_byte", "err_cloze", "mfu"}
        assert {k: row[k] for k in keys} == {k: alone[k] for k in keys}
    assert batched[2]["steps"] == 25 and batched[0]["steps"] == 40  # the short member stopped at its own step


def test_a_diverging_member_leaves_the_others_undisturbed(tmp_path):
    healthy = tiny(lr=3e-3)
    rows = train_batch([tiny(lr=5.0, seed=2), healthy], tmp_path / "b")
    alone = train_run(healthy, tmp_path / "a")
    assert rows[0]["status"] == "diverged" and rows[0]["loss"] is None and rows[0]["steps"] < 40
    assert "training loss" in rows[0]["message"]
    assert rows[1]["status"] == "ok" and rows[1]["loss"] == pytest.approx(alone["loss"], rel=1e-4)
    diverged = _curve(tmp_path / "b", rows[0])
    assert diverged["step"].iloc[-1] == rows[0]["steps"] and diverged["loss"].isna().iloc[-1]
    saved = json.loads((tmp_path / "b" / "proxy" / rows[0]["run_id"] / "result.json").read_text())
    assert saved["status"] == "diverged"


def test_batched_forward_and_gradients_equal_the_members_models():
    cfg = TrainConfig(width=32, depth=2, n_heads=2, seq_len=16, parametrization="mup", base_width=16,
                      mlp="swiglu", qk_layernorm=True, bias=True, z_loss=1e-3).model_config()  # fmt: skip
    members, alone = [GPT(cfg, seed=s) for s in (0, 1, 2)], [GPT(cfg, seed=s) for s in (0, 1, 2)]
    params = bm.stack(members)
    idx = torch.randint(0, 256, (3, 4, 17), generator=torch.Generator().manual_seed(0))
    logits = bm.forward(params, idx[..., :-1], cfg)
    objective, ce = bm.batched_loss(logits, idx[..., 1:], 1e-3)
    objective.backward()
    for k, model in enumerate(alone):
        single = model(idx[k, :, :-1])
        obj_k, ce_k = lm_loss(single, idx[k, :, 1:], 1e-3)
        obj_k.backward()
        torch.testing.assert_close(logits[k], single, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(ce[k], ce_k)
        for name, p in model.named_parameters():
            torch.testing.assert_close(params[name].grad[k], p.grad, rtol=1e-4, atol=1e-7)
            assert torch.equal(dict(members[k].named_parameters())[name], params[name][k])  # views of the batch


def test_optimizer_matches_adamw_per_member_lr():
    cfg = TrainConfig(width=32, depth=1, n_heads=2, seq_len=8, parametrization="mup", base_width=16).model_config()
    members, alone = [GPT(cfg, seed=s) for s in (0, 1)], [GPT(cfg, seed=s) for s in (0, 1)]
    params = bm.stack(members)
    opt = bm.BatchedAdamW(params, members[0], 0.1, (0.9, 0.95), 1e-8)
    from scalefit.proxy.mup import param_groups

    opts = [torch.optim.AdamW(param_groups(m, cfg, lr, 0.1, eps=1e-8), betas=(0.9, 0.95)) for m, lr in
            zip(alone, (1e-2, 3e-3))]  # fmt: skip
    gen = torch.Generator().manual_seed(0)
    for _ in range(3):
        for name, p in params.items():
            p.grad = torch.randn(p.shape, generator=gen)
            for k, m in enumerate(alone):
                dict(m.named_parameters())[name].grad = p.grad[k].clone()
        opt.step(params, [1e-2, 3e-3])
        for o in opts:
            o.step()
    for k, m in enumerate(alone):
        for name, p in m.named_parameters():
            torch.testing.assert_close(params[name][k].detach(), p.detach(), rtol=1e-5, atol=1e-7)


def test_members_must_share_the_shape():
    with pytest.raises(ConfigError, match="width"):
        check_group([tiny(), tiny(width=64)])
    with pytest.raises(ConfigError, match="batch_size"):
        train_batch([tiny(), tiny(batch_size=4)], "unused")
    with pytest.raises(ConfigError, match="at least one"):
        check_group([])
    assert group_key(tiny(lr=1.0, seed=3, schedule="wsd", n_tokens=8 * 32)) == group_key(tiny())
    # tied_embeddings=auto is compared resolved: explicit false equals auto under muP
    mup = tiny(parametrization="mup", base_width=16)
    assert group_key(mup) == group_key(dataclasses.replace(mup, tied_embeddings=False))


def test_train_cli_vary_trains_one_batch(tmp_path):
    from typer.testing import CliRunner

    from scalefit.cli.app import app

    args = ["train", "--corpus", "pydoc", "--width", "32", "--depth", "1", "--heads", "2", "--seq-len", "32",
            "--batch-size", "4", "--tokens", "1024", "--threads", "1", "--set", "cloze_items=0", "--set",
            "eval_tokens=256", "--out", str(tmp_path)]  # fmt: skip
    result = CliRunner().invoke(app, [*args, "--vary", "lr=1e-3,3e-3", "--vary", "seed=0,1", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)  # stderr holds the short runs' data-budget warnings
    assert [(r["lr"], r["seed"]) for r in rows] == [(1e-3, 0), (1e-3, 1), (3e-3, 0), (3e-3, 1)]
    assert len({r["run_id"] for r in rows}) == 4 and all((tmp_path / "proxy" / r["run_id"]).is_dir() for r in rows)
    bad = CliRunner().invoke(app, [*args, "--vary", "width=32,64"])
    assert bad.exit_code != 0 and "may differ only in" in bad.output


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batched_members_match_single_runs_and_compile(tmp_path):
    configs = [tiny(device="cuda", dtype="float32", lr=lr, seed=i) for i, lr in enumerate((1e-3, 3e-3, 2e-3))]
    for cfg, row in zip(configs, train_batch(configs, tmp_path / "b")):
        alone = train_run(cfg, tmp_path / "a")
        assert row["status"] == alone["status"] == "ok"
        assert row["loss"] == pytest.approx(alone["loss"], rel=1e-3)  # cuBLAS batched vs plain kernels
    compiled = [tiny(device="cuda", compile=True, lr=lr, seed=i) for i, lr in enumerate((1e-3, 3e-3))]
    rows = train_batch(compiled, tmp_path / "c")  # bf16 autocast (dtype auto on CUDA), torch.compile
    assert all(r["status"] == "ok" and r["tokens_per_s"] > 0 and r["device"].startswith("cuda") for r in rows)
