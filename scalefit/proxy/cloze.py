"""err_cloze: a 4-way multiple-choice cloze set built from validation text, scored by likelihood.

Each item is a window of validation ids split into a context and its true continuation; the three
distractors are continuations of the same length taken from elsewhere in the validation split. The
model picks the choice the context makes most likely, scored as the pointwise mutual information
``log p(choice | context) - log p(choice | null)`` where the null context is one token, the most
frequent token of the validation split (domain-conditional PMI, Holtzman et al. 2021, "Surface Form
Competition"), so that low-entropy distractors (runs of spaces or dashes) do not win on raw
likelihood. ``err_cloze`` is the fraction of items it gets wrong (chance: 0.75). The set depends only
on the validation split, the sequence length and a fixed seed, so it is the same for every run on a
corpus.

``cloze_metrics`` gives the two numbers the trainer logs at every checkpoint (curve rows), the inputs
of the two-step "model ladder" (Bhagia et al. 2024): ``loss_cloze``, the task loss (mean negative
log-likelihood per token of the true continuation given its context, nats), and ``acc_cloze``, the
accuracy of the PMI pick (1 - err_cloze).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from scalefit.errors import ConfigError

__all__ = ["ClozeSet", "build_cloze", "cloze_metrics", "err_cloze"]

CLOZE_SEED = 20240101  # fixed on purpose: the same items for every run, whatever the run's seed
N_CHOICES = 4


@dataclass(frozen=True)
class ClozeSet:
    contexts: np.ndarray  # (items, context_len) ids
    choices: np.ndarray  # (items, 4, continuation_len) ids
    answers: np.ndarray  # (items,) index of the true continuation
    null_token: int  # one-token null context of the unconditional score


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
    null = int(np.bincount(np.asarray(val, dtype=np.int64)).argmax())
    return ClozeSet(contexts, choices, answers, null)


def _logprobs(model: torch.nn.Module, seqs: torch.Tensor, n_scored: int, device: torch.device, batch: int):
    """Sum of log p over the last ``n_scored`` tokens of each sequence."""
    out = []
    for i in range(0, len(seqs), batch):
        chunk = seqs[i : i + batch].to(device)
        logits = model(chunk[:, :-1])[:, -n_scored:].float()
        logp = F.log_softmax(logits, dim=-1).gather(-1, chunk[:, -n_scored:, None]).squeeze(-1)
        out.append(logp.sum(-1).cpu())
    return torch.cat(out)


@torch.no_grad()
def _choice_logprobs(model: torch.nn.Module, cloze: ClozeSet, device: torch.device, batch: int = 128):
    """(items, 4) log p(choice | context) and (items, 4) log p(choice | null token)."""
    n, k, cont = cloze.choices.shape
    choices = torch.as_tensor(cloze.choices).reshape(n * k, cont)
    ctx = torch.as_tensor(cloze.contexts).repeat_interleave(k, dim=0)
    null = torch.full((n * k, 1), cloze.null_token, dtype=choices.dtype)
    conditional = _logprobs(model, torch.cat([ctx, choices], dim=1), cont, device, batch)
    unconditional = _logprobs(model, torch.cat([null, choices], dim=1), cont, device, batch)
    return conditional.view(n, k), unconditional.view(n, k)


def choice_scores(model: torch.nn.Module, cloze: ClozeSet, device: torch.device, batch: int = 128):
    """(items, 4) PMI score of each choice: log p(choice | context) - log p(choice | null token)."""
    conditional, unconditional = _choice_logprobs(model, cloze, device, batch)
    return conditional - unconditional


def _in_eval_mode(model: torch.nn.Module, fn):
    was_training = model.training
    model.eval()
    try:
        return fn()
    finally:
        model.train(was_training)


def err_cloze(model: torch.nn.Module, cloze: ClozeSet, device: torch.device) -> float:
    """Fraction of items where the true continuation is not the most likely choice."""
    picks = _in_eval_mode(model, lambda: choice_scores(model, cloze, device).argmax(dim=1).numpy())
    return float((picks != cloze.answers).mean())


def cloze_metrics(model: torch.nn.Module, cloze: ClozeSet, device: torch.device) -> dict[str, float]:
    """``loss_cloze`` (nats per token of the true continuation given its context: the task loss) and
    ``acc_cloze`` (share of items whose PMI pick is the true continuation), from one pass over the items."""
    conditional, unconditional = _in_eval_mode(model, lambda: _choice_logprobs(model, cloze, device))
    answers = torch.as_tensor(cloze.answers)
    true_lp = conditional.gather(1, answers[:, None]).squeeze(1)
    picks = (conditional - unconditional).argmax(dim=1)
    cont = cloze.choices.shape[2]
    return {"loss_cloze": float(-true_lp.mean() / cont), "acc_cloze": float((picks == answers).float().mean())}
