"""Sweeps pack same-shape runs into batched models: same run ids, same runs.csv, same resume as unbatched."""

from __future__ import annotations

import pandas as pd
import pytest

pytest.importorskip("torch")

from typer.testing import CliRunner  # noqa: E402

from scalefit.cli.app import app  # noqa: E402
from scalefit.errors import SweepError  # noqa: E402
from scalefit.sweeps.batching import RunBatch, default_batch_runs, members, pack  # noqa: E402
from scalefit.sweeps.executors import SerialExecutor  # noqa: E402
from scalefit.sweeps.runner import plan_sweep, run_sweep  # noqa: E402
from scalefit.sweeps.spec import parse_spec  # noqa: E402

TINY = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 8, "eval_tokens": 256,
        "n_evals": 3, "tokens": 4096, "device": "cpu", "threads": 1}  # fmt: skip
GRID = [{"shape": [[16, 1], [32, 1]], "lr": [1e-3, 3e-3, 1e-2], "schedule": ["cosine", "wsd"]},
        {"shape": [[16, 1]], "lr": 3e-3, "tokens": 2048, "seed": [1, 2]}]  # fmt: skip


def _spec():
    return parse_spec({"name": "t", "fixed": TINY, "grid": GRID})


def test_pack_groups_by_shape_evenly_in_order(tmp_path):
    _, runs = plan_sweep(_spec(), tmp_path / "t")
    units = pack(runs, 4, "cpu")
    assert sorted(r.run_id for u in units for r in members(u)) == sorted(r.run_id for r in runs)  # each run once
    for unit in units:
        shapes = {(r.config.width, r.config.depth) for r in members(unit)}
        assert len(shapes) == 1 and len(members(unit)) <= 4
    by_width = {w: [len(members(u)) for u in units if members(u)[0].config.width == w] for w in (16, 32)}
    assert sorted(by_width[16]) == [4, 4] and sorted(by_width[32]) == [3, 3]  # 8 runs: 4 + 4; 6 runs: 3 + 3
    firsts = [runs.index(members(u)[0]) for u in units]
    assert firsts == sorted(firsts)  # the runner's order (longest first) is kept
    assert all(not isinstance(u, RunBatch) for u in pack(runs, 1, "cpu"))  # 1 turns batching off
    with pytest.raises(SweepError, match="at least 1"):
        pack(runs, 0, "cpu")


def test_default_batch_runs_by_device_and_size():
    _, runs = plan_sweep(_spec(), "t")
    assert default_batch_runs(runs[0].config, "cpu") == 1  # measured: no faster on CPU
    assert default_batch_runs(runs[0].config, "cuda") == 16  # a 10k-parameter model on a GPU
    from scalefit.proxy.config import TrainConfig

    assert default_batch_runs(TrainConfig(width=1024, depth=12, n_heads=16), "cuda") == 1  # ~150M params: alone


def test_batched_sweep_matches_unbatched_and_resumes(tmp_path):
    spec = _spec()
    plain = run_sweep(spec, tmp_path / "a" / "t", executor=SerialExecutor(batch_runs=1))
    batched = run_sweep(spec, tmp_path / "b" / "t", executor=SerialExecutor(batch_runs=8))
    assert plain.counts == batched.counts == {"ok": 14}
    a, b = (pd.read_csv(tmp_path / x / "t" / "runs.csv") for x in ("a", "b"))
    assert a.columns.tolist() == b.columns.tolist() and a["run_id"].tolist() == b["run_id"].tolist()
    pd.testing.assert_series_equal(a["loss"], b["loss"], rtol=1e-4)
    assert (a["steps"] == b["steps"]).all() and (b.loc[b["n_tokens"] == 2048, "steps"] == 16).all()
    ca, cb = (pd.read_csv(tmp_path / x / "t" / "curves.csv") for x in ("a", "b"))
    pd.testing.assert_frame_equal(ca[["run_id", "step", "lr"]], cb[["run_id", "step", "lr"]])
    # a batch stopped midway: members without a result are trained again (packed again), the others are kept
    lost = b["run_id"].iloc[[0, 3, 5]].tolist()
    kept = {rid: (tmp_path / "b" / "t" / rid / "result.json").read_bytes() for rid in b["run_id"] if rid not in lost}
    for rid in lost:
        (tmp_path / "b" / "t" / rid / "result.json").unlink()
    again = run_sweep(spec, tmp_path / "b" / "t", executor=SerialExecutor(batch_runs=8))
    assert sorted(again.executed) == sorted(lost) and again.counts == {"ok": 14}
    assert kept == {rid: (tmp_path / "b" / "t" / rid / "result.json").read_bytes() for rid in kept}
    c = pd.read_csv(tmp_path / "b" / "t" / "runs.csv")
    pd.testing.assert_series_equal(a["loss"], c["loss"], rtol=1e-4)


def test_cli_batch_runs_option(tmp_path):
    runner = CliRunner()
    spec = tmp_path / "s.toml"
    spec.write_text('name = "s"\n[fixed]\n' + "\n".join(f"{k} = {v!r}".replace("'", '"') for k, v in TINY.items())
                    + '\n[[grid]]\nshape = [[16, 1]]\nlr = [1e-3, 3e-3]\n')  # fmt: skip
    bad = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s"), "--batch-runs", "0"])
    assert bad.exit_code != 0 and "--batch-runs must be at least 1" in bad.output
    slurm = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s"), "--executor", "slurm",
                                "--batch-runs", "4"])  # fmt: skip
    assert slurm.exit_code != 0 and "local executor" in slurm.output
    ok = runner.invoke(app, ["sweep", str(spec), "--out", str(tmp_path / "s"), "--workers", "0", "--batch-runs", "2",
                             "--json"])  # fmt: skip
    assert ok.exit_code == 0, ok.output
    assert pd.read_csv(tmp_path / "s" / "runs.csv")["status"].tolist() == ["ok", "ok"]


def test_local_pool_trains_batches_like_serial_runs(tmp_path):
    from scalefit.sweeps.executors import LocalExecutor

    spec = parse_spec({"name": "t", "fixed": TINY, "grid": [{"shape": [[16, 1]], "lr": [1e-3, 3e-3, 1e-2]}]})
    serial = run_sweep(spec, tmp_path / "a" / "t", executor=SerialExecutor(batch_runs=1))
    events = []
    pool = run_sweep(spec, tmp_path / "b" / "t", executor=LocalExecutor(workers=2, device="cpu", batch_runs=2),
                     on_event=events.append)  # fmt: skip
    assert serial.counts == pool.counts == {"ok": 3} and sorted(pool.executed) == sorted(serial.executed)
    a, b = (pd.read_csv(tmp_path / x / "t" / "runs.csv") for x in ("a", "b"))
    pd.testing.assert_series_equal(a["loss"], b["loss"], rtol=1e-4)
    kinds = [(e.kind, e.run.run_id) for e in events if e.kind in ("start", "done")]
    assert sorted(rid for k, rid in kinds if k == "start") == sorted(rid for k, rid in kinds if k == "done")
    assert {e.run.run_id for e in events if e.kind == "log"} == set(a["run_id"])  # live curve rows of every member


def test_a_dead_workers_batch_keeps_its_finished_members(tmp_path):
    from scalefit.sweeps.batching import remaining

    spec = parse_spec({"name": "t", "fixed": TINY, "grid": [{"shape": [[16, 1]], "lr": [1e-3, 3e-3, 1e-2]}]})
    out = tmp_path / "t"
    run_sweep(spec, out, executor=SerialExecutor(batch_runs=3))
    _, runs = plan_sweep(spec, out)
    (out / runs[1].run_id / "result.json").unlink()
    (out / runs[2].run_id / "result.json").unlink()
    done = []
    left = remaining(RunBatch(tuple(runs)), out, lambda kind, run, row: done.append((kind, run.run_id)))
    assert done == [("done", runs[0].run_id)]
    assert isinstance(left, RunBatch) and [r.run_id for r in left.runs] == [runs[1].run_id, runs[2].run_id]
    (out / runs[1].run_id).rename(tmp_path / "moved")  # one left: a plain run, not a batch of one
    run_sweep(spec, out, executor=SerialExecutor(batch_runs=1))
    (out / runs[2].run_id / "result.json").unlink()
    assert remaining(RunBatch(tuple(runs)), out, lambda *a: None) == runs[2]
    assert remaining(runs[0], out, lambda *a: None) == runs[0]  # a plain run is run again whole
