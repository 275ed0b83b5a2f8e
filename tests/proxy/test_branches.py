"""Branched cooldowns: a branch ends bit-identical to a fresh run of its length, and the lengths cost <= 1.2 D."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from scalefit.errors import ConfigError
from scalefit.proxy import train as train_module
from scalefit.proxy.branches import branch_configs, train_branched
from scalefit.proxy.config import make_config, run_id
from scalefit.proxy.train import train_run
from tests.proxy.conftest import tiny


def _wsd(**overrides):
    settings = dict(schedule="wsd", decay_frac=0.2, warmup_frac=0.05, n_tokens=40 * 8 * 32, cloze_items=0, n_evals=4)
    return tiny(**{**settings, **overrides})


def test_branches_equal_fresh_runs_and_cost_at_most_1_2_d(tmp_path, monkeypatch):
    trunk = _wsd(cooldown_branches="0.5,0.25")
    steps = {"n": 0}
    real_step = train_module._step

    def counting_step(run, batch):
        steps["n"] += 1
        return real_step(run, batch)

    monkeypatch.setattr(train_module, "_step", counting_step)
    with pytest.warns(Warning):  # tiny runs are short of data
        results = train_branched(trunk, tmp_path / "branched")
    assert [r["steps"] for r in results] == [40, 20, 10] and all(r["status"] == "ok" for r in results)
    assert steps["n"] == 40 + 4 + 2 <= 1.2 * 40  # the trunk, then each branch's 20% cooldown only
    assert run_id(dataclasses.replace(trunk, cooldown_branches="")) == results[0]["run_id"]  # same run as a plain one
    for branch, result in zip(branch_configs(trunk), results[1:]):
        with pytest.warns(Warning):
            fresh = train_run(branch, tmp_path / "fresh")
        assert fresh["run_id"] == result["run_id"]
        assert fresh["loss"] == result["loss"]  # the same weights, bit for bit: the same validation loss
        # (train_loss is the mean since the last logged step, and the two log at different steps before the branch)
        curve = pd.read_csv(tmp_path / "branched" / branch.name / result["run_id"] / "curve.csv")
        assert curve["step"].is_monotonic_increasing and curve["step"].iloc[-1] == result["steps"]
        assert not list((tmp_path / "branched" / branch.name / result["run_id"]).glob("checkpoint*"))


@pytest.mark.parametrize("sets, match", [
    (["schedule=wsd", "cooldown_branches=0.5,2"], "in \\(0, 1\\)"),
    (["schedule=wsd", "cooldown_branches=0.5,0.5"], "distinct"),
    (["schedule=cosine", "cooldown_branches=0.5"], "schedule=wsd"),
    (["schedule=wsd", "warmup_steps=-1"], "warmup_steps"),
])  # fmt: skip
def test_bad_branches_are_config_errors(sets, match):
    with pytest.raises(ConfigError, match=match):
        make_config(sets=sets)


def test_a_branch_that_would_start_inside_the_warmup_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="warmup"):
        train_branched(_wsd(cooldown_branches="0.05", warmup_frac=0.2), tmp_path)
    assert not any(tmp_path.iterdir())  # refused before any training


def test_train_cli_trains_the_trunk_and_its_branches(tmp_path):
    import json

    from typer.testing import CliRunner

    from scalefit.cli.app import app

    args = ["train", "--corpus", "pydoc", "--width", "32", "--depth", "1", "--heads", "2", "--seq-len", "32",
            "--batch-size", "8", "--tokens", str(40 * 8 * 32), "--threads", "1", "--set", "cloze_items=0", "--set",
            "eval_tokens=256", "--set", "schedule=wsd", "--set", "cooldown_branches=0.5", "--out", str(tmp_path),
            "--json"]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["steps"] for r in rows] == [40, 20] and len({r["run_id"] for r in rows}) == 2


def test_a_sweep_plans_each_trunk_with_its_branches():
    from scalefit.sweeps.spec import expand, parse_spec

    fixed = {"corpus": "pydoc", "schedule": "wsd", "cooldown_branches": "0.5,0.25", "seq_len": 32, "batch_size": 8,
             "n_heads": 2, "tokens": 40 * 8 * 32}
    spec = parse_spec({"fixed": fixed, "grid": [{"shape": [[32, 1], [64, 1]]}]}, name="branched")
    runs = expand(spec)
    assert [r.n_tokens // 256 for r in runs] == [40, 20, 10, 40, 20, 10]
    assert [r.where for r in runs[:3]] == ["grid #1", "grid #1 branch", "grid #1 branch"]
    assert len({r.run_id for r in runs}) == 6 and all(r.config.cooldown_branches == "" for r in runs[1:3])


def test_a_trunk_never_trains_inside_a_batched_model():
    from scalefit.proxy.group import check_group
    from scalefit.sweeps.batching import pack
    from scalefit.sweeps.spec import expand, parse_spec

    with pytest.raises(ConfigError, match="trains alone"):
        check_group([_wsd(cooldown_branches="0.5"), _wsd(cooldown_branches="0.5", seed=1)])
    fixed = {"corpus": "pydoc", "schedule": "wsd", "cooldown_branches": "0.5", "seq_len": 32, "batch_size": 8,
             "n_heads": 2, "tokens": 40 * 8 * 32, "shape": [32, 1]}
    runs = expand(parse_spec({"fixed": fixed, "grid": [{"seed": [0, 1]}]}, name="b"))
    units = pack(runs, 4, "cpu")
    trunks = [u for u in units if getattr(u, "config", None) is not None and u.config.cooldown_branches]
    assert len(trunks) == 2  # each trunk a unit of its own; its branches may batch together



def test_a_sweep_trains_each_branch_from_its_trunk_not_beside_it(tmp_path):
    # the runner hands out the longest runs first; a branch started beside its trunk (2 workers) would train its
    # whole length. It waits for the trunk instead: its curve holds the trunk's rows up to its cooldown.
    from collections import deque

    from scalefit.sweeps.executors import LocalExecutor, _next_ready
    from scalefit.sweeps.runner import branch_waves, run_sweep, trunks_first
    from scalefit.sweeps.spec import expand, parse_spec

    fixed = {"corpus": "pydoc", "schedule": "wsd", "cooldown_branches": "0.5,0.25", "seq_len": 32, "batch_size": 8,
             "n_heads": 2, "tokens": 40 * 8 * 32, "shape": [32, 1], "cloze_items": 0, "eval_tokens": 256,
             "n_evals": 6, "device": "cpu"}
    spec = parse_spec({"fixed": fixed, "grid": [{"seed": [0]}]}, name="b")
    trunk, half, quarter = expand(spec)
    assert [r.run_id for r in trunks_first([quarter, half, trunk])] == [trunk.run_id, quarter.run_id, half.run_id]
    assert branch_waves([half, trunk, quarter]) == [[trunk], [half, quarter]]  # a Slurm array: trunks first
    assert branch_waves([half, quarter]) == [[half, quarter]]  # the trunk finished earlier: one wave
    pending = deque([half, trunk, quarter])
    assert _next_ready(pending, {}) is trunk and _next_ready(pending, {"f": trunk}) is None  # both wait for it
    assert _next_ready(pending, {}) is half and list(pending) == [quarter]  # the trunk is done: they go
    run_sweep(spec, tmp_path, executor=LocalExecutor(workers=2, device="cpu"))
    trunk_curve = pd.read_csv(tmp_path / trunk.run_id / "curve.csv")
    for branch in (half, quarter):
        curve = pd.read_csv(tmp_path / branch.run_id / "curve.csv")
        start = branch.config.n_tokens // (8 * 32) * 4 // 5  # its cooldown's first step (20% cooldown)
        before = curve[curve["step"] <= start]["step"].tolist()
        assert before and before == trunk_curve[trunk_curve["step"] <= start]["step"].tolist()


def test_a_branch_is_estimated_at_its_cooldown_not_its_length():
    from scalefit.sweeps.estimate import estimate_seconds
    from scalefit.sweeps.spec import expand, parse_spec

    fixed = {"corpus": "pydoc", "schedule": "wsd", "cooldown_branches": "0.5", "seq_len": 64, "batch_size": 16,
             "n_heads": 4, "tokens": 4000 * 16 * 64, "shape": [128, 2], "cloze_items": 0}
    trunk, half = expand(parse_spec({"fixed": fixed}, name="b"))
    fresh, branch = estimate_seconds(half.config), estimate_seconds(half.config, branch=True)
    assert 0.15 * fresh < branch < 0.3 * fresh  # a 20% cooldown (and its evaluations), plus the run's fixed cost
    assert estimate_seconds(trunk.config) > 1.8 * fresh  # twice the steps (the fixed costs once)
