"""Coordinate check (Yang et al. 2022, "Tensor Programs V", §D): activation scale per layer vs width or depth.

Train a few AdamW steps at several widths (or depths) and record the mean absolute coordinate of every layer's
output. Under muP the curves are flat in width (slope ~0 on log-log axes); under SP they grow, which is why SP's
best learning rate shifts with width. Under CompleteP (``base_depth``) the residual stream is flat in depth too.
``coord_slopes`` gives the log-log slope per layer. Any model option (``arch``, ``mlp``, ``tied_embeddings``,
``qk_layernorm``, ``bias``, ``init_std``, ``base_n_heads``, ``mup_attention`` …) can be checked through
``options``; the optimizer groups are the trainer's (``mup.param_groups`` with epsilon and weight decay).

At the small widths a CPU check affords, one seed's slopes scatter by about +-0.3 (each width draws its own random
matrices, and width 32 has few of them); ``seeds`` averages the activation scales over that many seeds before the
slopes are fitted, as the ``mup`` package's ``get_coord_data(nseeds=...)`` does.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch

from scalefit.errors import ConfigError
from scalefit.proxy.config import ModelConfig, init_std_default, tied_embeddings_default
from scalefit.proxy.data import load_corpus, sample_batch
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.mup import param_groups

__all__ = ["coord_check", "coord_check_depth", "coord_slopes"]

EPS = 1e-8  # AdamW epsilon of the check (the trainer's default)


def _hooks(model: GPT, store: dict[str, float]) -> list:
    def record(name: str):
        def hook(_module, _inputs, output):
            store[name] = float(output.detach().abs().mean())

        return hook

    modules = {"embedding": model.wte}
    for i, block in enumerate(model.blocks):
        modules |= {f"block{i}.attn": block.attn, f"block{i}.mlp": block.mlp, f"block{i}": block}
    modules["last_block"] = model.blocks[-1]
    handles = [m.register_forward_hook(record(name)) for name, m in modules.items()]
    handles.append(model.register_forward_hook(record("logits")))
    return handles


def _model_config(options: Mapping[str, Any] | None, **shape: Any) -> ModelConfig:
    allowed = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(options or {}) - allowed)
    if unknown:
        raise ConfigError(f"unknown model option(s) {', '.join(unknown)} for the coordinate check; "
                          f"allowed: {', '.join(sorted(allowed))}")
    values = {**shape, **(options or {})}
    defaults = ModelConfig()
    param, arch = values.get("parametrization", defaults.parametrization), values.get("arch", defaults.arch)
    values.setdefault("tied_embeddings", tied_embeddings_default(param, arch))
    if values.get("init_std", "auto") == "auto":  # as a proxy run's init_std=auto
        values["init_std"] = init_std_default(param, values.get("base_width", defaults.base_width))
    return ModelConfig(**values)


def _measure(cfg: ModelConfig, *, steps: int, lr: float, batch_size: int, data, seed: int) -> list[dict]:
    model = GPT(cfg, seed=seed)
    opt = torch.optim.AdamW(param_groups(model, cfg, lr, 0.0, eps=EPS), lr=lr, betas=(0.9, 0.95), eps=EPS)
    store: dict[str, float] = {}
    handles = _hooks(model, store)
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(steps + 1):
        batch = torch.from_numpy(sample_batch(data.train, batch_size, cfg.seq_len, rng))
        loss = lm_loss(model(batch[:, :-1]), batch[:, 1:])[0]
        rows += [{"step": step, "layer": k, "l1": v} for k, v in store.items()]
        if step < steps:
            loss.backward()
            opt.step()
            opt.zero_grad(set_to_none=True)
    for h in handles:
        h.remove()
    return rows


def _check(axis: str, configs: dict[int, ModelConfig], *, steps: int, lr: float, batch_size: int, corpus: str,
           seed: int, seeds: int) -> pd.DataFrame:
    """Rows (axis value, step, layer, l1) of every config, on the same batches; l1 is the mean over ``seeds`` seeds."""
    if not (isinstance(seeds, int) and seeds >= 1):
        raise ConfigError(f"seeds must be a positive integer (seeds averaged per point), got {seeds!r}")
    data = load_corpus(corpus)
    rows = []
    for s in range(seed, seed + seeds):
        for value, cfg in configs.items():
            rows += [{axis: value, **r} for r in _measure(cfg, steps=steps, lr=lr, batch_size=batch_size, data=data,
                                                           seed=s)]
    return pd.DataFrame(rows).groupby([axis, "step", "layer"], sort=False, as_index=False)["l1"].mean()


def coord_check(
    widths: Sequence[int],
    *,
    parametrization: str = "mup",
    base_width: int | None = None,
    steps: int = 5,
    lr: float = 1e-2,
    depth: int = 2,
    n_heads: int = 4,
    seq_len: int = 64,
    batch_size: int = 8,
    corpus: str = "pydoc",
    seed: int = 0,
    seeds: int = 1,
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Mean |activation| per layer (rows: width, step, layer, l1) over ``steps`` AdamW steps.

    Step t's row is measured in the forward pass after t updates, on that step's batch (the same batches
    at every width). ``base_width`` defaults to the smallest width; ``options`` sets any other model field.
    ``seeds`` > 1 averages l1 over seeds ``seed, seed + 1, ...`` (init and batches).
    """
    base = base_width or min(widths)
    configs = {w: _model_config(options, width=w, depth=depth, n_heads=n_heads, seq_len=seq_len,
                                parametrization=parametrization, base_width=base) for w in widths}
    return _check("width", configs, steps=steps, lr=lr, batch_size=batch_size, corpus=corpus, seed=seed, seeds=seeds)


def coord_check_depth(
    depths: Sequence[int],
    *,
    width: int = 64,
    base_depth: int | None = None,
    parametrization: str = "mup",
    steps: int = 5,
    lr: float = 1e-2,
    n_heads: int = 4,
    seq_len: int = 64,
    batch_size: int = 8,
    corpus: str = "pydoc",
    seed: int = 0,
    seeds: int = 1,
    options: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """The coordinate check along depth (rows: depth, step, layer, l1) at one width.

    ``base_depth`` (default: the smallest depth) turns CompleteP's depth scaling on; ``base_depth=0`` checks the
    parametrization without it. ``last_block`` is the residual stream leaving the last block.
    """
    base = min(depths) if base_depth is None else base_depth
    configs = {d: _model_config(options, width=width, depth=d, n_heads=n_heads, seq_len=seq_len,
                                parametrization=parametrization, base_width=width, base_depth=base) for d in depths}
    return _check("depth", configs, steps=steps, lr=lr, batch_size=batch_size, corpus=corpus, seed=seed, seeds=seeds)


def coord_slopes(frame: pd.DataFrame, step: int | None = None, axis: str | None = None) -> dict[str, float]:
    """Slope of log(mean |activation|) against log(width) (or depth) per layer, at ``step`` (default: the last).

    ``axis`` defaults to ``depth`` for a depth check's frame, else ``width``; a layer measured at fewer than two
    values of the axis (a block only the deeper models have) has no slope.
    """
    axis = axis or ("depth" if "depth" in frame.columns else "width")
    step = int(frame["step"].max()) if step is None else step
    at = frame[frame["step"] == step]
    out = {}
    for layer, g in at.groupby("layer", sort=False):
        if g[axis].nunique() >= 2:
            out[layer] = float(np.polyfit(np.log(g[axis]), np.log(g["l1"]), 1)[0])
    return out
