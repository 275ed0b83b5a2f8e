"""One run on two CPU processes (gloo): the same curve as one process at the same global batch, DDP and FSDP2, SP and
muP; bad device settings refused in one line. The 200-step comparisons are in benchmarks/bench_distributed.py."""

from __future__ import annotations

import os

import pandas as pd
import pytest

from scalefit.errors import ConfigError
from scalefit.proxy.train import train_run

from .conftest import tiny

STEPS = 30


def dist_config(steps: int = STEPS, **overrides):
    """A tiny run whose every step trains on 8 sequences, logging often; no cloze set (a quick evaluation)."""
    base = dict(n_tokens=steps * 8 * 32, n_evals=6, cloze_items=0, eval_tokens=1024, lr=3e-3, threads=1)
    return tiny(**{**base, **overrides})


def curve_of(result: dict, out) -> pd.DataFrame:
    return pd.read_csv(os.path.join(out, result["name"], result["run_id"], "curve.csv"))


def max_gap(a: pd.DataFrame, b: pd.DataFrame, column: str = "loss") -> float:
    assert a["step"].tolist() == b["step"].tolist()
    return float((a[column] - b[column]).abs().max())


@pytest.mark.parametrize(("parametrization", "shard"), [("sp", "ddp"), ("mup", "fsdp")])
def test_two_processes_give_the_one_process_curve(tmp_path, parametrization, shard):
    # one process accumulating two pieces of 4 sequences = two processes of 4 sequences each (same global batch 8)
    kw = dict(parametrization=parametrization, width=64, base_width=32)
    one = train_run(dist_config(micro_batch=4, **kw), tmp_path / "one")
    two = train_run(dist_config(devices=2, shard=shard, **kw), tmp_path / "two")
    assert one["run_id"] == two["run_id"] and two["devices"] == 2 and two["status"] == "ok"
    a, b = curve_of(one, tmp_path / "one"), curve_of(two, tmp_path / "two")
    assert max_gap(a, b) <= 1e-5 and max_gap(a, b, "train_loss") <= 1e-5
    assert a["loss"].iloc[-1] < a["loss"].iloc[0] - 0.5  # it learned: the comparison is not between two flat lines
    assert not list((tmp_path / "two").glob("**/checkpoint.pt"))  # deleted at the end (keep_checkpoints off)


def test_a_different_global_batch_gives_a_different_curve(tmp_path):
    # the other side: the comparison above can fail (a global batch of 4 is not the run of 8)
    one = train_run(dist_config(steps=10), tmp_path / "a")
    other = train_run(dist_config(steps=20, batch_size=4), tmp_path / "b")
    assert abs(one["loss"] - other["loss"]) > 1e-3


def test_more_devices_than_the_node_has_is_one_line_and_writes_nothing(tmp_path):
    with pytest.raises(ConfigError, match=r"devices 64 is more than this node has \(\d+ cores\)") as info:
        train_run(dist_config(devices=64, batch_size=64), tmp_path)
    assert "\n" not in str(info.value) and not any(tmp_path.iterdir())


def test_a_world_size_that_does_not_divide_the_batch_is_refused():
    with pytest.raises(ConfigError, match="batch_size 8 is not divisible by devices 3") as info:
        train_run(dist_config(devices=3), "unused")
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="micro_batch 3 does not divide the 4 sequences"):
        train_run(dist_config(devices=2, micro_batch=3), "unused")


def test_cli_devices_errors_are_one_line(tmp_path):
    from typer.testing import CliRunner

    from scalefit.cli.app import app

    runner = CliRunner()
    base = ["train", "--corpus", "pydoc", "--width", "32", "--depth", "1", "--heads", "2", "--seq-len", "16",
            "--tokens", "2048", "--device", "cpu", "--out", str(tmp_path)]  # fmt: skip
    for extra, text in ((["--batch-size", "8", "--devices", "3"], "not divisible by devices 3"),
                        (["--batch-size", "64", "--devices", "64"], "devices 64 is more than this node has")):
        res = runner.invoke(app, base + extra)
        assert res.exit_code == 1 and text in res.stderr and res.stderr.strip().count("\n") == 0, res.output
    assert not any(tmp_path.iterdir())  # nothing written
