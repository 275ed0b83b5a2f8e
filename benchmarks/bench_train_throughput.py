"""Training throughput: scalefit's trainer vs a minimal plain-PyTorch loop of the same model shape.

The reference below shares no code with scalefit: its own GPT (pre-norm, causal SDPA, tanh-GELU MLP,
tied embeddings, learned positions, no biases), AdamW, gradient clipping and random byte windows.
Both run the same number of steps of the same shape in this process, alternating, and the median
tokens/s of each is reported with their ratio (target: scalefit / reference >= 0.95).

    python benchmarks/bench_train_throughput.py [--width 128 --depth 4 --steps 150 --repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class RefBlock(nn.Module):
    def __init__(self, d: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(d, bias=False), nn.LayerNorm(d, bias=False)
        self.qkv, self.out = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.fc, self.proj = nn.Linear(d, 4 * d, bias=False), nn.Linear(4 * d, d, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, d))
        return x + self.proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class RefGPT(nn.Module):
    def __init__(self, vocab: int, d: int, depth: int, heads: int, ctx: int) -> None:
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(ctx, d)
        self.blocks = nn.Sequential(*[RefBlock(d, heads) for _ in range(depth)])
        self.ln = nn.LayerNorm(d, bias=False)
        for p in self.parameters():
            if p.ndim == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        x = self.tok(idx) + self.pos.weight[: idx.shape[1]]
        return F.linear(self.ln(self.blocks(x)), self.tok.weight)


def reference_tokens_per_s(args: argparse.Namespace, data: np.ndarray) -> float:
    torch.manual_seed(0)
    model = RefGPT(256, args.width, args.depth, args.heads, args.seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(0)
    offsets = np.arange(args.seq_len + 1)
    start = time.perf_counter()
    for step in range(args.steps):
        if step == 1:
            start = time.perf_counter()  # like scalefit's tokens/s: the first (warm-up) step is not timed
        idx = rng.integers(0, len(data) - args.seq_len - 1, size=args.batch_size)
        batch = torch.from_numpy(data[idx[:, None] + offsets].astype(np.int64))
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.view(-1, 256), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (args.steps - 1) * args.batch_size * args.seq_len / (time.perf_counter() - start)


def scalefit_tokens_per_s(args: argparse.Namespace) -> float:
    from scalefit.proxy import TrainConfig, train_run

    cfg = TrainConfig(
        corpus="pydoc", width=args.width, depth=args.depth, n_heads=args.heads, seq_len=args.seq_len,
        batch_size=args.batch_size, n_tokens=args.steps * args.batch_size * args.seq_len, lr=3e-3,
        n_evals=1, eval_tokens=args.seq_len, cloze_items=0, device="cpu",
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as out:
        return train_run(cfg, out)["tokens_per_s"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics))
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ref, ours = [], []
    scalefit_tokens_per_s(args)  # warm caches (corpus load, kernels) before timing either side
    for _ in range(args.repeats):
        ref.append(reference_tokens_per_s(args, data))
        ours.append(scalefit_tokens_per_s(args))
    r, s = statistics.median(ref), statistics.median(ours)
    print(
        f"shape: width {args.width}, depth {args.depth}, heads {args.heads}, seq_len {args.seq_len}, "
        f"batch {args.batch_size}, {args.steps} steps, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    print(f"reference loop : {r:>10,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in ref)})")
    print(f"scalefit train : {s:>10,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in ours)})")
    print(f"ratio scalefit / reference: {s / r:.3f}  (target >= 0.95)")


if __name__ == "__main__":
    main()
