"""K same-shape proxy models as one: parameters with a leading member dimension, one forward/backward for all.

``stack(models)`` turns K ``GPT`` modules (each built and initialised by its own seed, exactly as a single run
builds it) into one dict of ``[K, ...]`` leaf tensors and points every member's parameters at its slice, so a
member module always shows the batched model's current weights (evaluation and the cloze error use it
unchanged). ``forward`` is ``GPT.forward`` with batched matmuls (``bmm``) and the K x batch sequences folded
into one attention call; members never mix: member k's logits depend on member k's weights and tokens only.
``BatchedAdamW`` is AdamW (decoupled weight decay, bias correction as ``torch.optim.AdamW``) with a learning
rate per member and per-parameter muP multipliers; ``clip_grad_norms`` clips each member's global norm.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

from scalefit.proxy.config import ModelConfig
from scalefit.proxy.model import GPT, norm, split_heads
from scalefit.proxy.mup import attention_scale, param_groups, readout_multiplier, residual_multiplier

__all__ = ["BatchedAdamW", "batched_loss", "clip_grad_norms", "forward", "select", "stack"]

def stack(models: Sequence[GPT]) -> dict[str, torch.Tensor]:
    """The members' parameters stacked into ``[K, ...]`` leaves; each member's parameters become views of them."""
    named = [dict(m.named_parameters()) for m in models]
    params = {n: torch.stack([d[n].detach() for d in named]).requires_grad_() for n in named[0]}
    for k, d in enumerate(named):
        for n, p in d.items():
            p.data = params[n].data[k]
    return params


def select(params: dict[str, torch.Tensor], models: Sequence[GPT], keep: list[int]) -> dict[str, torch.Tensor]:
    """The batch reduced to members ``keep`` (indices into the current batch); ``models`` are those members."""
    index = torch.tensor(keep, device=next(iter(params.values())).device)
    out = {n: p.detach().index_select(0, index).requires_grad_() for n, p in params.items()}
    for k, model in enumerate(models):
        for n, p in model.named_parameters():
            p.data = out[n].data[k]
    return out


def _ln(x: torch.Tensor, params: dict[str, torch.Tensor], prefix: str, cfg: ModelConfig) -> torch.Tensor:
    """The layout's norm (``model.norm``) with per-member gains: weights ``[K, C]``, x ``[K, ..., C]``."""
    shape = (x.shape[0],) + (1,) * (x.ndim - 2) + (x.shape[-1],)
    bias = params.get(prefix + ".bias")
    return norm(x, cfg, params[prefix + ".weight"].view(shape), None if bias is None else bias.view(shape))


def _linear(x: torch.Tensor, params: dict[str, torch.Tensor], prefix: str) -> torch.Tensor:
    """Per-member ``x @ W.T (+ b)``: x ``[K, B, T, in]``, W ``[K, out, in]``."""
    k, b, t, c = x.shape
    weight, bias = params[prefix + ".weight"], params.get(prefix + ".bias")
    flat, w_t = x.reshape(k, b * t, c), weight.transpose(1, 2)
    y = torch.bmm(flat, w_t) if bias is None else torch.baddbmm(bias[:, None], flat, w_t)
    return y.view(k, b, t, -1)


def _attention(x: torch.Tensor, params: dict[str, torch.Tensor], prefix: str, cfg: ModelConfig) -> torch.Tensor:
    k, b, t, c = x.shape

    def norm_qk(q: torch.Tensor, kk: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return _ln(q, params, prefix + ".q_norm", cfg), _ln(kk, params, prefix + ".k_norm", cfg)

    qkv = _linear(x, params, prefix + ".qkv")
    q, kk, v = (z.reshape(k * b, *z.shape[2:]) for z in split_heads(qkv, cfg, norm_qk if cfg.qk_layernorm else None))
    y = F.scaled_dot_product_attention(q, kk, v, is_causal=True, scale=attention_scale(cfg))
    return _linear(y.transpose(1, 2).reshape(k, b, t, c), params, prefix + ".proj")


def _mlp(x: torch.Tensor, params: dict[str, torch.Tensor], prefix: str, cfg: ModelConfig) -> torch.Tensor:
    h = _linear(x, params, prefix + ".fc")
    if cfg.mlp == "swiglu":
        gate, value = h.chunk(2, dim=-1)
        h = F.silu(gate) * value
    else:
        h = F.gelu(h, approximate="tanh")
    return _linear(h, params, prefix + ".proj")


def forward(params: dict[str, torch.Tensor], idx: torch.Tensor, cfg: ModelConfig) -> torch.Tensor:
    """Logits ``[K, B, T, vocab]`` of K members on their own token ids ``idx`` ``[K, B, T]``."""
    k, _, t = idx.shape
    wte = params["wte.weight"]  # [K, vocab, C]
    offsets = (torch.arange(k, device=idx.device) * cfg.vocab_size).view(k, 1, 1)
    x = F.embedding(idx + offsets, wte.reshape(-1, cfg.width))
    if cfg.arch == "gpt2":
        x = x + params["wpe.weight"][:, None, :t]
    if cfg.input_mult != 1.0:
        x = x * cfg.input_mult
    branch_mult = residual_multiplier(cfg)
    for i in range(cfg.depth):
        prefix = f"blocks.{i}"
        for norm_name, name, branch in ((".ln_1", ".attn", _attention), (".ln_2", ".mlp", _mlp)):
            if cfg.arch == "olmo2":  # OLMo 2: the branch's output is normalised before the residual add
                y = _ln(branch(x, params, prefix + name, cfg), params, prefix + norm_name, cfg)
            else:
                y = branch(_ln(x, params, prefix + norm_name, cfg), params, prefix + name, cfg)
            x = x + (y if branch_mult == 1.0 else y * branch_mult)
    x = _ln(x, params, "ln_f", cfg)
    weight = wte if cfg.tied_embeddings else params["lm_head.weight"]
    b = x.shape[1]
    logits = torch.bmm(x.reshape(k, b * t, cfg.width), weight.transpose(1, 2)).view(k, b, t, cfg.vocab_size)
    mult = readout_multiplier(cfg)
    return logits if mult == 1.0 else logits * mult


def batched_loss(logits: torch.Tensor, targets: torch.Tensor, z_loss: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(objective summed over members, per-member cross-entropy ``[K]``): ``lm_loss`` of each member, summed.

    Each member's gradient is its own ``lm_loss`` gradient, since its weights appear in its term only.
    """
    k = logits.shape[0]
    flat = logits.float().reshape(-1, logits.shape[-1])
    ce = F.cross_entropy(flat, targets.reshape(-1), reduction="none").view(k, -1).mean(dim=1)
    if z_loss > 0:
        z = torch.logsumexp(flat, dim=-1).pow(2).view(k, -1).mean(dim=1)
        return (ce + z_loss * z).sum(), ce
    return ce.sum(), ce


def _per_member(values: torch.Tensor, p: torch.Tensor) -> torch.Tensor:
    """``[K]`` values shaped to broadcast over a ``[K, ...]`` parameter."""
    return values.view((-1,) + (1,) * (p.ndim - 1))


def clip_grad_norms(params: Sequence[torch.Tensor], max_norm: float) -> torch.Tensor:
    """Clip each member's gradient to global norm ``max_norm`` (as ``clip_grad_norm_``); returns the norms ``[K]``."""
    grads = [p.grad for p in params if p.grad is not None]
    norms = torch.stack([g.pow(2).sum(dim=tuple(range(1, g.ndim))) for g in grads]).sum(dim=0).sqrt()
    coef = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    torch._foreach_mul_(grads, [_per_member(coef, g) for g in grads])
    return norms


class BatchedAdamW:
    """AdamW over ``[K, ...]`` parameters with per-member learning rates; muP multipliers per parameter.

    ``lr_mult``, weight decay and epsilon come from ``mup.param_groups`` of one member (all members share the shape).
    ``step(params, lrs)`` applies one update with member k's peak-times-schedule learning rate ``lrs[k]``.
    """

    def __init__(self, params: dict[str, torch.Tensor], member: GPT, weight_decay: float, betas: tuple[float, float],
                 eps: float) -> None:  # fmt: skip
        names = {id(p): n for n, p in member.named_parameters()}
        groups = param_groups(member, member.cfg, 1.0, weight_decay, eps=eps)
        self.settings = {names[id(p)]: (g["lr_mult"], g["weight_decay"]) for g in groups for p in g["params"]}
        self.eps = {names[id(p)]: g["eps"] for g in groups for p in g["params"]}  # muP/CompleteP: per group
        self.betas, self.t = betas, 0
        self.exp_avg = {n: torch.zeros_like(p) for n, p in params.items()}
        self.exp_avg_sq = {n: torch.zeros_like(p) for n, p in params.items()}

    @torch.no_grad()
    def step(self, params: dict[str, torch.Tensor], lrs: Sequence[float]) -> None:
        self.t += 1
        beta1, beta2 = self.betas
        bc1, bc2_sqrt = 1 - beta1**self.t, (1 - beta2**self.t) ** 0.5
        names = [n for n in params if params[n].grad is not None]
        ps, gs = [params[n] for n in names], [params[n].grad for n in names]
        ms, vs = [self.exp_avg[n] for n in names], [self.exp_avg_sq[n] for n in names]
        device = ps[0].device
        rates = {}  # (lr_mult, decay) -> (per-member decay factor, per-member step size)
        for mult, decay in {self.settings[n] for n in names}:
            lr = torch.tensor([x * mult for x in lrs], dtype=torch.float64)
            rates[mult, decay] = ((1 - lr * decay).float().to(device), (-lr / bc1).float().to(device))
        decayed = [(p, rates[self.settings[n]][0]) for n, p in zip(names, ps) if self.settings[n][1] > 0]
        if decayed:
            torch._foreach_mul_([p for p, _ in decayed], [_per_member(r, p) for p, r in decayed])
        torch._foreach_lerp_(ms, gs, 1 - beta1)
        torch._foreach_mul_(vs, beta2)
        torch._foreach_addcmul_(vs, gs, gs, 1 - beta2)
        denom = torch._foreach_sqrt(vs)
        torch._foreach_div_(denom, bc2_sqrt)
        torch._foreach_add_(denom, [self.eps[n] for n in names])
        updates = torch._foreach_div(ms, denom)
        torch._foreach_mul_(updates, [_per_member(rates[self.settings[n]][1], p) for n, p in zip(names, ps)])
        torch._foreach_add_(ps, updates)

    def select(self, keep: list[int]) -> None:
        """Keep the moments of members ``keep`` only (as ``batched_model.select`` does for the weights)."""
        for state in (self.exp_avg, self.exp_avg_sq):
            for n, v in state.items():
                state[n] = v.index_select(0, torch.tensor(keep, device=v.device))
