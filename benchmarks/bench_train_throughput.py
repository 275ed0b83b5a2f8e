"""Training throughput: scalefit's trainer vs a minimal plain-PyTorch loop of the same model shape.

The references below share no code with scalefit: their own GPT (pre-norm, causal SDPA, tanh-GELU MLP,
tied embeddings, learned positions, no biases) and Llama (RoPE, RMSNorm, SwiGLU, untied readout, no biases),
AdamW, gradient clipping and random byte windows. Both run the same number of steps of the same shape in this
process, alternating, and the median tokens/s of each is reported with their ratio (target: scalefit /
reference >= 0.95). ``--compare-layouts`` instead times scalefit's llama layout against its gpt2 layout,
interleaved, and reports the per-step time ratio (target: llama / gpt2 <= 1.2). ``--save PATH`` measures both
of the llama layout's targets (llama / gpt2 per-step time; llama trainer / plain loop per-step time <= 1.05) and
writes them as JSON with the shape, the commit and the machine's load before and after (one case per shape).
``--cpu-time`` times both sides by the process's CPU time instead of wall time (with one thread, time slices
taken by other processes on shared cores then do not count; the trainer's clock is pointed at the same timer).

    python benchmarks/bench_train_throughput.py [--width 128 --depth 4 --steps 150 --repeats 3] [--arch llama]
    python benchmarks/bench_train_throughput.py --compare-layouts
    nice -n 10 python benchmarks/bench_train_throughput.py --threads 1 --width 64 --depth 2 --seq-len 64 \
        --batch-size 8 --steps 40 --repeats 9 --cpu-time --save benchmarks/results/bench_train_throughput.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

CLOCK = time.perf_counter  # --cpu-time: time.process_time


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


class RefLlamaBlock(nn.Module):
    def __init__(self, d: int, heads: int, ctx: int) -> None:
        super().__init__()
        self.heads, hidden = heads, int(round(8 * d / 3))
        self.n1, self.n2 = nn.RMSNorm(d, eps=1e-5), nn.RMSNorm(d, eps=1e-5)
        self.qkv, self.out = nn.Linear(d, 3 * d, bias=False), nn.Linear(d, d, bias=False)
        self.gate_up, self.down = nn.Linear(d, 2 * hidden, bias=False), nn.Linear(hidden, d, bias=False)
        dh = d // heads
        angles = torch.arange(ctx)[:, None] * 10000.0 ** (-torch.arange(0, dh, 2) / dh)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        t, half = x.shape[2], x.shape[-1] // 2
        c, s = self.cos[:t], self.sin[:t]
        return torch.cat((x[..., :half] * c - x[..., half:] * s, x[..., :half] * s + x[..., half:] * c), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        q, k, v = self.qkv(self.n1(x)).view(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(self.rotate(q), self.rotate(k), v, is_causal=True)
        x = x + self.out(y.transpose(1, 2).reshape(b, t, d))
        gate, up = self.gate_up(self.n2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(gate) * up)


class RefLlama(nn.Module):
    def __init__(self, vocab: int, d: int, depth: int, heads: int, ctx: int) -> None:
        super().__init__()
        self.tok, self.head = nn.Embedding(vocab, d), nn.Linear(d, vocab, bias=False)
        self.blocks = nn.Sequential(*[RefLlamaBlock(d, heads, ctx) for _ in range(depth)])
        self.norm = nn.RMSNorm(d, eps=1e-5)
        for p in self.parameters():
            if p.ndim == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        return self.head(self.norm(self.blocks(self.tok(idx))))


LAYOUTS = {"gpt2": {}, "llama": {"arch": "llama", "mlp": "swiglu", "tied_embeddings": False}}


def reference_tokens_per_s(args: argparse.Namespace, data: np.ndarray) -> float:
    torch.manual_seed(0)
    model = (RefLlama if args.arch == "llama" else RefGPT)(256, args.width, args.depth, args.heads, args.seq_len)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    rng = np.random.default_rng(0)
    offsets = np.arange(args.seq_len + 1)
    start = CLOCK()
    for step in range(args.steps):
        if step == 1:
            start = CLOCK()  # like scalefit's tokens/s: the first (warm-up) step is not timed
        idx = rng.integers(0, len(data) - args.seq_len - 1, size=args.batch_size)
        batch = torch.from_numpy(data[idx[:, None] + offsets].astype(np.int64))
        logits = model(batch[:, :-1])
        loss = F.cross_entropy(logits.view(-1, 256), batch[:, 1:].reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
    return (args.steps - 1) * args.batch_size * args.seq_len / (CLOCK() - start)


def scalefit_tokens_per_s(args: argparse.Namespace, arch: str | None = None) -> float:
    import warnings

    from scalefit.proxy import TrainConfig, train_run

    cfg = TrainConfig(
        corpus="pydoc", width=args.width, depth=args.depth, n_heads=args.heads, seq_len=args.seq_len,
        batch_size=args.batch_size, n_tokens=args.steps * args.batch_size * args.seq_len, lr=3e-3,
        n_evals=1, eval_tokens=args.seq_len, cloze_items=0, device="cpu", **LAYOUTS[arch or args.arch],
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as out, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a timing run is short of data by design
        return train_run(cfg, out)["tokens_per_s"]


def compare_layouts(args: argparse.Namespace) -> dict:
    """scalefit's llama layout vs its gpt2 layout: per-step time ratio, interleaved in this process."""
    runs: dict[str, list[float]] = {"gpt2": [], "llama": []}
    scalefit_tokens_per_s(args, "llama")  # warm-up
    for _ in range(args.repeats):
        for arch in runs:
            runs[arch].append(scalefit_tokens_per_s(args, arch))
    g, ll = statistics.median(runs["gpt2"]), statistics.median(runs["llama"])
    for arch, values in runs.items():
        print(f"scalefit {arch:<6}: {statistics.median(values):>10,.0f} tokens/s  "
              f"(runs: {', '.join(f'{x:,.0f}' for x in values)})")
    print(f"per-step time llama / gpt2: {g / ll:.3f}  (target <= 1.2)")
    # each repeat's pair ran back to back, so its ratio shares that moment's load
    pairs = [a / b for a, b in zip(runs["gpt2"], runs["llama"])]
    return {"tokens_per_s": runs, "ratio": g / ll, "pair_ratios": pairs, "target": 1.2}


def compare_reference(args: argparse.Namespace) -> dict:
    """scalefit's trainer vs the plain PyTorch loop of the same layout (``args.arch``), interleaved."""
    from pydoc_data.topics import topics

    text = "\n\n".join(topics[k] for k in sorted(topics))
    data = np.frombuffer(text.encode("utf-8"), dtype=np.uint8)
    ref, ours = [], []
    scalefit_tokens_per_s(args)  # warm caches (corpus load, kernels) before timing either side
    for _ in range(args.repeats):
        ref.append(reference_tokens_per_s(args, data))
        ours.append(scalefit_tokens_per_s(args))
    r, s = statistics.median(ref), statistics.median(ours)
    print(f"reference loop : {r:>10,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in ref)})")
    print(f"scalefit train : {s:>10,.0f} tokens/s  (runs: {', '.join(f'{x:,.0f}' for x in ours)})")
    print(f"ratio scalefit / reference: {s / r:.3f}  (target >= 0.95; per-step time {r / s:.3f}, target <= 1.05)")
    return {"tokens_per_s": {"reference": ref, "scalefit": ours}, "ratio": s / r, "step_time_ratio": r / s,
            "pair_step_time_ratios": [a / b for a, b in zip(ref, ours)], "target_step_time_ratio": 1.05}


def save(args: argparse.Namespace) -> None:
    """Both llama-layout targets, measured in this process, written as JSON to ``args.save``."""
    from pathlib import Path

    from bench_select import _commit

    from scalefit._io import write_json_atomic

    machine = {"commit": _commit(), "cores": os.cpu_count(), "threads": torch.get_num_threads(),
               "torch": torch.__version__, "clock": "process_time" if args.cpu_time else "perf_counter",
               "load_before": [round(v, 2) for v in os.getloadavg()]}
    shape = {k: getattr(args, k) for k in ("width", "depth", "heads", "seq_len", "batch_size", "steps", "repeats")}
    print(f"shape: {shape}, {machine['threads']} threads")
    layouts = compare_layouts(args)
    args.arch = "llama"
    reference = compare_reference(args)
    machine["load_after"] = [round(v, 2) for v in os.getloadavg()]
    path = Path(args.save)  # one case per shape; other shapes' cases already in the file are kept
    results = json.loads(path.read_text()) if path.exists() else {"cases": {}}
    key = "w{width}_d{depth}_t{seq_len}_b{batch_size}".format(**shape)
    results["cases"][key] = {"machine": machine, "shape": shape, "llama_vs_gpt2": layouts,
                             "llama_trainer_vs_loop": reference}
    write_json_atomic(path, results)
    print(f"wrote {args.save} (case {key})")


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
    parser.add_argument("--arch", choices=sorted(LAYOUTS), default="gpt2", help="model layout of both sides")
    parser.add_argument("--compare-layouts", action="store_true", help="scalefit's llama vs gpt2 per-step time")
    parser.add_argument("--cpu-time", action="store_true", help="time by process CPU time instead of wall time")
    parser.add_argument("--save", type=str, help="measure both llama targets (layouts; llama trainer vs loop) and "
                        "write them, with the commit and load, as JSON here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.cpu_time:
        import types

        from scalefit.proxy import monitor

        global CLOCK
        CLOCK = time.process_time
        monitor.time = types.SimpleNamespace(perf_counter=time.process_time)  # the trainer's Clock
    if args.save:
        save(args)
        return
    if args.compare_layouts:
        print(f"shape: width {args.width}, depth {args.depth}, heads {args.heads}, seq_len {args.seq_len}, "
              f"batch {args.batch_size}, {args.steps} steps, {torch.get_num_threads()} threads")
        compare_layouts(args)
        return

    print(
        f"shape: {args.arch}, width {args.width}, depth {args.depth}, heads {args.heads}, seq_len {args.seq_len}, "
        f"batch {args.batch_size}, {args.steps} steps, {torch.get_num_threads()} threads, torch {torch.__version__}"
    )
    compare_reference(args)


if __name__ == "__main__":
    main()
