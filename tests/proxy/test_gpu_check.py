"""benchmarks/gpu_check.py: fails fast and clearly without CUDA; its CPU smoke mode writes the JSON summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_check.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-CUDA path")
def test_without_cuda_it_stops_at_once_with_one_line(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--out", str(out)], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 2 and not out.exists()
    assert done.stderr.strip().count("\n") == 0 and "no CUDA GPU" in done.stderr and "Traceback" not in done.stderr


def test_cpu_smoke_mode_writes_the_summary(tmp_path):
    out = tmp_path / "gpu.json"
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "cpu", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = json.loads(out.read_text())
    assert summary["ok"] is True and summary["quick"] is True and summary["gpu_tests"] is None
    assert {"n_params", "tokens_per_s", "mfu", "status"} <= set(summary["proxy"])
    assert summary["proxy"]["status"] == "ok" and summary["proxy"]["tokens_per_s"] > 0
    assert summary["proxy_eager"]["compile"] is False and summary["proxy_350m"]["status"] == "ok"
    assert summary["proxy_350m"]["n_params"] > summary["proxy"]["n_params"] and summary["multi_device"] == []
    assert [(r["width"], r["k"]) for r in summary["batched"]] == [(32, 1), (32, 2)]
    assert all(r["aggregate_tokens_per_s"] > 0 and r["ok"] == r["k"] for r in summary["batched"])
    assert summary["batched"][0]["vs_k1"] == 1.0


def test_bad_arguments_are_usage_errors():
    done = subprocess.run([sys.executable, str(SCRIPT), "--device", "tpu"], capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode == 2 and "invalid choice" in done.stderr
