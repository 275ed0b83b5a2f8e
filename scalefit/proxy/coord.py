"""Coordinate check (Yang et al. 2022, "Tensor Programs V", §D): activation scale per layer vs width.

Train a few AdamW steps at several widths and record the mean absolute coordinate of every layer's
output. Under muP the curves are flat in width (slope ~0 on log-log axes); under SP they grow, which is
why SP's best learning rate shifts with width. ``coord_slopes`` gives the log-log slope per layer.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from scalefit.proxy.config import ModelConfig, tied_embeddings_default
from scalefit.proxy.data import load_corpus, sample_batch
from scalefit.proxy.model import GPT, lm_loss
from scalefit.proxy.mup import param_groups

__all__ = ["coord_check", "coord_slopes"]


def _hooks(model: GPT, store: dict[str, float]) -> list:
    def record(name: str):
        def hook(_module, _inputs, output):
            store[name] = float(output.detach().abs().mean())

        return hook

    modules = {"embedding": model.wte}
    for i, block in enumerate(model.blocks):
        modules |= {f"block{i}.attn": block.attn, f"block{i}.mlp": block.mlp, f"block{i}": block}
    handles = [m.register_forward_hook(record(name)) for name, m in modules.items()]
    handles.append(model.register_forward_hook(record("logits")))
    return handles


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
) -> pd.DataFrame:
    """Mean |activation| per layer (rows: width, step, layer, l1) over ``steps`` AdamW steps.

    Step t's row is measured in the forward pass after t updates, on that step's batch (the same batches
    at every width). ``base_width`` defaults to the smallest width.
    """
    data = load_corpus(corpus)
    base = base_width or min(widths)
    rows = []
    for width in widths:
        cfg = ModelConfig(
            width=width, depth=depth, n_heads=n_heads, seq_len=seq_len, parametrization=parametrization,
            base_width=base, tied_embeddings=tied_embeddings_default(parametrization),
        )  # fmt: skip
        model = GPT(cfg, seed=seed)
        opt = torch.optim.AdamW(param_groups(model, cfg, lr, 0.0), lr=lr, betas=(0.9, 0.95))
        store: dict[str, float] = {}
        handles = _hooks(model, store)
        rng = np.random.default_rng(seed)
        for step in range(steps + 1):
            batch = torch.from_numpy(sample_batch(data.train, batch_size, seq_len, rng))
            loss = lm_loss(model(batch[:, :-1]), batch[:, 1:])[0]
            rows += [{"width": width, "step": step, "layer": k, "l1": v} for k, v in store.items()]
            if step < steps:
                loss.backward()
                opt.step()
                opt.zero_grad(set_to_none=True)
        for h in handles:
            h.remove()
    return pd.DataFrame(rows)


def coord_slopes(frame: pd.DataFrame, step: int | None = None) -> dict[str, float]:
    """Slope of log(mean |activation|) against log(width) per layer, at ``step`` (default: the last)."""
    step = int(frame["step"].max()) if step is None else step
    at = frame[frame["step"] == step]
    out = {}
    for layer, g in at.groupby("layer", sort=False):
        out[layer] = float(np.polyfit(np.log(g["width"]), np.log(g["l1"]), 1)[0])
    return out
