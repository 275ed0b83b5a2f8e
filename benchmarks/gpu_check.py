"""GPU verification in one command (under 8 minutes on one H100/H200-class GPU), with a JSON summary.

    python benchmarks/gpu_check.py [--out benchmarks/results/gpu_check.json]

1. runs the ``@pytest.mark.gpu`` tests (``pytest -m gpu``);
2. trains one ~50M-parameter proxy (width 512, depth 16, seq 1024, batch 32; bf16 autocast, fused AdamW,
   torch.compile) and reports its tokens/s and MFU (the trainer's own numbers: training steps only, first step
   excluded), the same run without torch.compile (is compiling worth it?), and a ~350M-parameter proxy (width
   1024, depth 28, seq 1024, batch 16);
2b. with several GPUs (``--devices``, default: all visible), the ~50M proxy on all of them with DDP and with FSDP2
   (same global batch): tokens/s, MFU over all devices, and the speed-up over one device;
3. trains the batched trainer at widths 128 and 256 (depth 4, seq 256, batch 32, bf16) with K = 1, 4 and 16
   members and reports the aggregate tokens/s of each (the sum of the members' shares) and its ratio to K = 1.

Without CUDA it stops at once with one line and exit status 2. ``--device cpu --quick`` runs every step at a
toy size on the CPU (skipping the pytest step unless ``--tests``): a smoke test of this script, not a measurement.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# (what, the full size on a GPU, the --quick size); sizes are TrainConfig keys
PROXY = ({"width": 512, "depth": 16, "n_heads": 8, "seq_len": 1024, "batch_size": 32, "steps": 150,
          "corpus": "kjv"},
         {"width": 64, "depth": 2, "n_heads": 2, "seq_len": 64, "batch_size": 4, "steps": 4,
          "corpus": "pydoc"})  # fmt: skip
PROXY_350M = ({"width": 1024, "depth": 28, "n_heads": 16, "seq_len": 1024, "batch_size": 16, "steps": 60,
               "corpus": "kjv"},
              {"width": 64, "depth": 3, "n_heads": 2, "seq_len": 64, "batch_size": 4, "steps": 3,
               "corpus": "pydoc"})  # fmt: skip
BATCHED = ({"widths": (128, 256), "ks": (1, 4, 16), "depth": 4, "seq_len": 256, "batch_size": 32, "steps": 60,
            "corpus": "kjv"},
           {"widths": (32,), "ks": (1, 2), "depth": 1, "seq_len": 32, "batch_size": 2, "steps": 3,
            "corpus": "pydoc"})  # fmt: skip
PYTEST_TIMEOUT_S = 240


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_check.json", help="where the JSON summary goes")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--quick", action="store_true", help="toy sizes (a smoke test of the script)")
    parser.add_argument("--devices", type=int, default=None,
                        help="devices for the several-device runs (default: all visible GPUs; on cpu: 1, none)")
    parser.add_argument("--tests", action=argparse.BooleanOptionalAction, default=None,
                        help="run the pytest -m gpu step (default: on for cuda, off for cpu)")  # fmt: skip
    args = parser.parse_args(argv)
    if args.tests is None:
        args.tests = args.device == "cuda"
    return args


def check_device(device: str) -> dict:
    """What the run is on; SystemExit(2) with one line when CUDA was asked for and is missing."""
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        print("gpu_check: no CUDA GPU visible (torch.cuda.is_available() is False); run it on a CUDA machine, "
              "or --device cpu --quick for a smoke test", file=sys.stderr)  # fmt: skip
        raise SystemExit(2)
    name = torch.cuda.get_device_name(0) if device == "cuda" else "cpu"
    gpus = torch.cuda.device_count() if device == "cuda" else 0
    return {"device": device, "device_name": name, "gpus": gpus, "torch": torch.__version__, "cuda": torch.version.cuda}


def gpu_tests() -> dict:
    """``pytest -m gpu`` over the test suite: exit status, its last line, seconds."""
    t0 = time.perf_counter()
    cmd = [sys.executable, "-m", "pytest", "-q", "-m", "gpu", "-p", "no:cacheprovider", "tests"]
    try:
        done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=PYTEST_TIMEOUT_S)
        code, tail = done.returncode, (done.stdout.strip().splitlines() or [""])[-1]
    except subprocess.TimeoutExpired:
        code, tail = -1, f"timed out after {PYTEST_TIMEOUT_S} s"
    return {"exit_code": code, "summary": tail, "passed": code == 0, "seconds": time.perf_counter() - t0}


def _config(device: str, width: int, depth: int, n_heads: int, seq_len: int, batch_size: int, steps: int, **kw):
    from scalefit.proxy.config import TrainConfig

    return TrainConfig(
        name="gpu-check", width=width, depth=depth, n_heads=n_heads, seq_len=seq_len,
        batch_size=batch_size, n_tokens=steps * batch_size * seq_len, n_evals=1, eval_tokens=seq_len * 8,
        cloze_items=0, device=device, dtype="bfloat16" if device == "cuda" else "float32", **{"lr": 2e-3, **kw},
    )  # fmt: skip


def proxy_throughput(device: str, size: dict, compile: bool | None = None, **kw) -> dict:
    """One proxy run (compiled on CUDA unless ``compile`` says otherwise): the trainer's tokens/s and MFU."""
    from scalefit.proxy.train import train_run

    t0 = time.perf_counter()
    cfg = _config(device, **size, compile=device == "cuda" if compile is None else compile, **kw)
    with tempfile.TemporaryDirectory() as out:
        r = train_run(cfg, out)
    keys = ("n_params", "steps", "tokens_per_s", "mfu", "loss", "status", "device", "devices")
    return {**{k: r[k] for k in keys}, "width": cfg.width, "depth": cfg.depth, "seq_len": cfg.seq_len,
            "batch_size": cfg.batch_size, "compile": cfg.compile, "dtype": cfg.dtype, "shard": cfg.shard,
            "seconds": time.perf_counter() - t0}  # fmt: skip


def multi_device(device: str, size: dict, devices: int, one: dict) -> list[dict]:
    """The proxy on ``devices`` devices, DDP and FSDP2, at the same global batch; speed-up over ``one`` device."""
    rows = []
    for shard in ("ddp", "fsdp"):
        r = proxy_throughput(device, size, devices=devices, shard=shard)
        r["vs_one_device"] = (r["tokens_per_s"] / one["tokens_per_s"]) if r["tokens_per_s"] and one["tokens_per_s"] \
            else None  # fmt: skip
        rows.append(r)
    return rows


def batched_throughput(device: str, size: dict) -> list[dict]:
    """Aggregate tokens/s of K members trained as one batched model, per width and K."""
    from scalefit.proxy.batched import train_batch

    rows = []
    for width in size["widths"]:
        base = None
        for k in size["ks"]:
            shape = (width, size["depth"], 4 if width >= 64 else 2, size["seq_len"], size["batch_size"], size["steps"])
            cfgs = [_config(device, *shape, corpus=size["corpus"], seed=i, lr=1e-3 * 1.5**i) for i in range(k)]
            t0 = time.perf_counter()
            with tempfile.TemporaryDirectory() as out:
                results = train_batch(cfgs, out)
            aggregate = sum(r["tokens_per_s"] or 0.0 for r in results)
            base = aggregate if k == size["ks"][0] else base
            rows.append({"width": width, "k": k, "n_params": results[0]["n_params"],
                         "aggregate_tokens_per_s": aggregate, "vs_k1": aggregate / base if base else None,
                         "ok": sum(r["status"] == "ok" for r in results),
                         "seconds": time.perf_counter() - t0})  # fmt: skip
    return rows


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    t0 = time.perf_counter()
    summary = {**check_device(args.device), "quick": args.quick}
    sys.path.insert(0, str(REPO))
    summary["gpu_tests"] = gpu_tests() if args.tests else None
    summary["proxy"] = proxy_throughput(args.device, PROXY[args.quick])
    summary["proxy_eager"] = proxy_throughput(args.device, PROXY[args.quick], compile=False)
    summary["proxy_350m"] = proxy_throughput(args.device, PROXY_350M[args.quick])
    devices = args.devices if args.devices is not None else (summary["gpus"] if args.device == "cuda" else 1)
    summary["multi_device"] = (multi_device(args.device, PROXY[args.quick], devices, summary["proxy"])
                               if devices > 1 else [])  # fmt: skip
    summary["batched"] = batched_throughput(args.device, BATCHED[args.quick])
    summary["wall_s"] = time.perf_counter() - t0
    tests_ok = summary["gpu_tests"] is None or summary["gpu_tests"]["passed"]
    batched_ok = all(r["ok"] == r["k"] for r in summary["batched"])
    runs = [summary["proxy"], summary["proxy_eager"], summary["proxy_350m"], *summary["multi_device"]]
    summary["ok"] = tests_ok and all(r["status"] == "ok" for r in runs) and batched_ok
    Path(args.out).write_text(json.dumps(summary, indent=2) + "\n")
    for p in runs:
        mfu = "n/a" if p["mfu"] is None else f"{100 * p['mfu']:.1f}%"
        how = f"{p['devices']} device(s) {p['shard'] if p['devices'] > 1 else ''}, compile {p['compile']}"
        print(f"{summary['device_name']}: proxy {p['n_params'] / 1e6:.1f}M params, {how}: {p['tokens_per_s']:,.0f} "
              f"tokens/s, MFU {mfu}")  # fmt: skip
    for r in summary["batched"]:
        print(f"batched width {r['width']}, K = {r['k']:>2}: {r['aggregate_tokens_per_s']:>12,.0f} tokens/s "
              f"({r['vs_k1']:.2f}x K=1)")  # fmt: skip
    if summary["gpu_tests"] is not None:
        print(f"pytest -m gpu: {summary['gpu_tests']['summary']}")
    print(f"{'ok' if summary['ok'] else 'FAILED'} in {summary['wall_s']:.0f} s -> {args.out}")
    if not summary["ok"]:
        raise SystemExit(1)
    return summary


if __name__ == "__main__":
    main()
