"""err_cloze: a 4-way multiple-choice cloze set built from validation text, scored by likelihood.

Each item is a window of validation ids split into a context and its true continuation; the three
distractors are continuations of the same length taken from elsewhere in the validation split. The
model picks the choice with the highest total log-likelihood given the context; ``err_cloze`` is the
fraction of items it gets wrong (chance: 0.75). The set depends only on the validation split, the
sequence length and a fixed seed, so it is the same for every run on a corpus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from scalefit.errors import ConfigError

__all__ = ["ClozeSet", "build_cloze", "err_cloze"]

CLOZE_SEED = 20240101  # fixed on purpose: the same items for every run, whatever the run's seed
N_CHOICES = 4


@dataclass(frozen=True)
class ClozeSet:
    contexts: np.ndarray  # (items, context_len) ids
    choices: np.ndarray  # (items, 4, continuation_len) ids
    answers: np.ndarray  # (items,) index of the true continuation


def build_cloze(val: np.ndarray, n_items: int, seq_len: int, seed: int = CLOZE_SEED) -> ClozeSet:
    """Build ``n_items`` items whose context plus continuation fits in ``seq_len`` tokens."""
    cont = max(1, min(16, seq_len // 4))
    ctx = min(seq_len - cont, 112)
    span = ctx + cont
    if ctx < 1 or len(val) < 4 * span:
        raise ConfigError(f"validation split ({len(val)} tokens) too short for cloze items of {span} tokens")
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, len(val) - span, size=n_items)
    contexts = np.stack([val[s : s + ctx] for s in starts]).astype(np.int64)
    choices = np.empty((n_items, N_CHOICES, cont), dtype=np.int64)
    answers = rng.integers(0, N_CHOICES, size=n_items)
    for i, s in enumerate(starts):
        true_at = s + ctx
        others: list[int] = []
        while len(others) < N_CHOICES - 1:
            j = int(rng.integers(0, len(val) - cont))
            if abs(j - true_at) >= cont and all(abs(j - o) >= cont for o in others):
                others.append(j)
        picks = iter(others)
        for c in range(N_CHOICES):
            at = true_at if c == answers[i] else next(picks)
            choices[i, c] = val[at : at + cont]
    return ClozeSet(contexts, choices, answers)


@torch.no_grad()
def choice_logprobs(model: torch.nn.Module, cloze: ClozeSet, device: torch.device, batch_items: int = 32):
    """(items, 4) total log-likelihood of each choice given its context."""
    n, k, cont = cloze.choices.shape
    ctx = torch.as_tensor(cloze.contexts).unsqueeze(1).expand(n, k, -1)
    seqs = torch.cat([ctx, torch.as_tensor(cloze.choices)], dim=2).reshape(n * k, -1)
    out = []
    for i in range(0, n * k, batch_items * k):
        chunk = seqs[i : i + batch_items * k].to(device)
        logits = model(chunk[:, :-1])[:, -cont:].float()
        logp = F.log_softmax(logits, dim=-1).gather(-1, chunk[:, -cont:, None]).squeeze(-1)
        out.append(logp.sum(-1).cpu())
    return torch.cat(out).view(n, k)


def err_cloze(model: torch.nn.Module, cloze: ClozeSet, device: torch.device) -> float:
    """Fraction of items where the true continuation is not the most likely choice."""
    was_training = model.training
    model.eval()
    try:
        picks = choice_logprobs(model, cloze, device).argmax(dim=1).numpy()
    finally:
        model.train(was_training)
    return float((picks != cloze.answers).mean())
