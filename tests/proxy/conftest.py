"""Proxy tests: torch is required (skipped without it); one CPU thread keeps timings stable on shared CI cores."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# The defaults before session 6 (gpt2 layout, GELU, init 0.02, Tensor Programs V's muP rules): the golden curves
# and the tests that need the gpt2 layout's options (biases) pin them.
FORMER_DEFAULTS = dict(arch="gpt2", mlp="gelu", init_std=0.02, mup_attention="1/d", mup_embedding_lr="1",
                       mup_readout_init="1/m", mup_vector_lr="1", mup_weight_decay="lr*wd")


def tiny(**overrides):
    """A TrainConfig for a seconds-long CPU run on the pydoc corpus."""
    from scalefit.proxy.config import TrainConfig

    base = dict(
        corpus="pydoc", width=32, depth=2, n_heads=2, seq_len=32, batch_size=8, n_tokens=40 * 8 * 32,
        lr=1e-2, eval_tokens=2048, cloze_items=16, n_evals=5, device="cpu",
    )  # fmt: skip
    base.update(overrides)
    return TrainConfig(**base)
