"""The cloze set: fixed, well-formed items; a model that knows the text scores well."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scalefit.errors import ConfigError
from scalefit.proxy.cloze import build_cloze, err_cloze
from scalefit.proxy.data import load_corpus


def test_items_are_fixed_and_hold_the_true_continuation():
    val = load_corpus("pydoc").val
    a, b = build_cloze(val, 50, 64), build_cloze(val, 50, 64)
    assert (a.contexts == b.contexts).all() and (a.choices == b.choices).all() and (a.answers == b.answers).all()
    assert a.contexts.shape == (50, 48) and a.choices.shape == (50, 4, 16)
    assert set(a.answers.tolist()) == {0, 1, 2, 3}
    text = np.asarray(val)
    for ctx, choices, ans in zip(a.contexts, a.choices, a.answers):
        window = np.concatenate([ctx, choices[ans]])
        hits = np.flatnonzero(np.all(np.lib.stride_tricks.sliding_window_view(text, len(window)) == window, axis=1))
        assert len(hits) >= 1
    with pytest.raises(ConfigError, match="too short"):
        build_cloze(val[:100], 10, 64)


def test_uniform_model_is_at_chance_and_truth_wins():
    val = load_corpus("pydoc").val
    cloze = build_cloze(val, 40, 32)

    class Uniform(torch.nn.Module):
        def forward(self, idx):
            return torch.zeros(*idx.shape, 256)

    # all choices tie; argmax picks index 0, so the error is the share of answers that are not 0
    assert err_cloze(Uniform(), cloze, torch.device("cpu")) == pytest.approx(float((cloze.answers != 0).mean()))

    class Knows(torch.nn.Module):
        """Puts mass on the true next id only inside contexts it has seen: the cloze contexts."""

        def forward(self, idx):
            logits = torch.zeros(*idx.shape, 256)
            for row, seq in enumerate(idx.numpy()):
                for i, ctx in enumerate(cloze.contexts):
                    n = len(ctx)
                    if len(seq) >= n and (seq[:n] == ctx).all():
                        truth = cloze.choices[i, cloze.answers[i]]
                        for p, tok in enumerate(truth[: len(seq) - n + 1]):
                            logits[row, n - 1 + p, tok] = 10.0
            return logits

    assert err_cloze(Knows(), cloze, torch.device("cpu")) == 0.0
