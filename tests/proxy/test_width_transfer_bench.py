"""benchmarks/bench_width_transfer.py's edge stage: an init whose best LR is the edge of those it trained gets the
next LR beyond; a bracketed one gets none."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench():
    sys.path.insert(0, str(BENCH))
    try:
        import bench_width_transfer

        yield bench_width_transfer
    finally:
        sys.path.pop(0)


def _runs(tmp_path: Path, rows: list[tuple]) -> tuple[pd.DataFrame, Path]:
    """A stage-1 folder with one config.json per run, and the runs as read_runs gives them."""
    lr_dir = tmp_path / "lr"
    frame = []
    for i, (param, width, init, lr, loss, stage1) in enumerate(rows):
        rid = f"r{i:03d}"
        frame.append({"run_id": rid, "parametrization": param, "width": width, "init_std": init, "lr": lr,
                      "loss": loss, "status": "ok", "seed": 0, "stage1": stage1})
        if stage1:
            (lr_dir / rid).mkdir(parents=True)
            (lr_dir / rid / "config.json").write_text(json.dumps({"width": width, "depth": 2, "n_heads": 4}))
    runs = pd.DataFrame(frame)
    runs[runs["stage1"]].drop(columns=["stage1", "init_std"]).to_csv(lr_dir / "runs.csv", index=False)
    return runs.drop(columns="stage1"), lr_dir


def test_an_init_whose_best_lr_is_at_an_edge_gets_the_next_lr(tmp_path, bench):
    from scalefit.sweeps.spec import expand

    rows = [("sp", 256, 0.04, 2.0**k, loss, True) for k, loss in ((-11, 1.78), (-10, 1.64), (-9, 1.66))]
    rows += [("sp", 256, 0.02, 2.0**k, loss, False) for k, loss in ((-11, 1.88), (-10, 1.72), (-9, 1.65))]  # top
    rows += [("sp", 256, 0.08, 2.0**k, loss, False) for k, loss in ((-11, 1.90), (-10, 1.95), (-9, 1.99))]  # bottom
    rows += [("sp", 128, 0.02, 2.0**k, loss, False) for k, loss in ((-9, 1.9), (-8, 1.7), (-7, 1.6))]  # not studied
    runs, lr_dir = _runs(tmp_path, rows)
    planned = expand(bench.edge_spec(runs, lr_dir, [256], 1))
    got = sorted((r.config.init_std, r.config.lr, r.config.width) for r in planned)
    assert got == [(0.02, 2.0**-8, 256), (0.08, 2.0**-12, 256)]  # 0.04's best (2^-10) is bracketed: nothing
    bracketed = runs[~((runs["init_std"] != 0.04) & (runs["width"] == 256))]
    assert bench.edge_spec(bracketed, lr_dir, [256], 2) is None
