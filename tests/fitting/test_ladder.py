"""The model ladder procedure (scalefit.planning.ladder): recovery, wide and long logs, the result protocol."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import FitFileError, RunDataError
from scalefit.planning.ladder import ladder, long_table
from scalefit.planning.ladder_result import LadderResult
from scalefit.runs import RunTable

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    import bench_ladder
finally:
    sys.path.pop(0)


def _ladder(*args, **kwargs) -> LadderResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ladder(*args, **kwargs)


@pytest.fixture(scope="module")
def synthetic():
    runs, truth = bench_ladder.draw(3)
    second = runs.assign(bpb_easy=runs.bpb_task * 0.8, acc_easy=np.clip(runs.acc_task + 0.05, 0, 1))
    return second, truth, _ladder(second, loss_cols="bpb_*", acc_cols="acc_*", bootstrap=60, seed=1, direct=False)


def test_recovers_the_generating_laws_and_predicts_the_target(synthetic):
    _, truth, res = synthetic
    assert res.tasks == ["easy", "task"]
    step1, step2 = res.loss_fit["task"], res.acc_fit["task"]
    assert step1.stats["n"] == 16 and step2.stats["n"] == 16 * 9  # the last checkpoints; all but the first 10%
    assert step2.params["L0"] == pytest.approx(truth["L0"], rel=0.05)
    assert step2.params["k"] == pytest.approx(truth["k"], rel=0.1)
    assert step2.params["floor"] == pytest.approx(0.25, abs=0.02)
    assert step2.data["anchors"] == [{"L": 0.0, "Acc": 1.0, "weight": 1.0}]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the target lies beyond the ladder
        assert step1.predict(bench_ladder.TARGET)[0] == pytest.approx(
            bench_ladder.task_loss(truth, **bench_ladder.TARGET), rel=0.03)
        pred = res.predict(bench_ladder.TARGET)
    assert list(pred.task) == ["easy", "task"]
    row = pred[pred.task == "task"].iloc[0]
    true_acc = bench_ladder.accuracy(truth, bench_ladder.task_loss(truth, **bench_ladder.TARGET))
    assert row.acc_lower <= true_acc <= row.acc_upper and abs(row.acc_pred - true_acc) < 0.02
    assert 0 <= row.acc_lower <= row.acc_pred <= row.acc_upper <= 1


def test_result_protocol_round_trip_and_plot(synthetic, tmp_path):
    _, _, res = synthetic
    path = res.save(tmp_path / "ladder.json")
    back = scalefit.load(path)
    assert isinstance(back, LadderResult) and back.to_dict() == res.to_dict()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.testing.assert_frame_equal(back.predict({"N": [7e9], "D": [4e12]}), res.predict({"N": [7e9], "D": [4e12]}))
    assert "step 2 (downstream-acc-sigmoid" in back.report() and "== task = easy ==" in back.report()
    with pytest.raises(TypeError):
        back.options["skip_first"] = 0.5
    bad = res.to_dict()
    bad["data"]["tasks"] = ["easy", "task", "mmlu"]
    with pytest.raises(FitFileError, match="no group for task 'mmlu'"):
        LadderResult.from_dict(bad)
    fig = back.plot()
    assert len(fig.axes) >= 4
    from scalefit.plotting import pyplot

    pyplot().close(fig)


def test_long_format_with_a_task_column_gives_the_same_fit(synthetic):
    runs, _, res = synthetic
    long = pd.concat([runs.assign(task=t, bpb=runs[f"bpb_{t}"], acc=runs[f"acc_{t}"]) for t in ("easy", "task")])
    other = _ladder(long.drop(columns=["bpb_task", "acc_task", "bpb_easy", "acc_easy"]), loss_cols="bpb",
                    acc_cols="acc", task="task", bootstrap=60, seed=1, direct=False)
    assert other.tasks == res.tasks
    for t in res.tasks:
        assert other.loss_fit[t].params == pytest.approx(dict(res.loss_fit[t].params), rel=1e-6)
        assert other.acc_fit[t].params == pytest.approx(dict(res.acc_fit[t].params), rel=1e-6)


def test_bad_logs_are_one_line_errors(synthetic):
    runs, _, _ = synthetic
    with pytest.raises(RunDataError, match="task 'easy' has a --acc-cols column .* but no --loss-cols"):
        _ladder(runs.drop(columns="bpb_easy"), loss_cols="bpb_*", acc_cols="acc_*")
    with pytest.raises(RunDataError, match="'loss_\\*' matches no column"):
        _ladder(runs, loss_cols="loss_*", acc_cols="acc_*")
    with pytest.raises(RunDataError, match="one glob whose \\* stands for the task name"):
        _ladder(runs, loss_cols="bpb_*,x_*", acc_cols="acc_*")
    with pytest.raises(RunDataError, match="needs a run key"):
        long_table(RunTable.from_frame(runs.drop(columns="run_id")), loss_cols="bpb_*", acc_cols="acc_*")
    with pytest.raises(RunDataError, match="--task-col 'kind' is not a column"):
        _ladder(runs, loss_cols="bpb_task", acc_cols="acc_task", task="kind")
    with pytest.raises(RunDataError, match="no column for N"):
        _ladder(runs.drop(columns="n_params"), loss_cols="bpb_*", acc_cols="acc_*")


def test_the_benchmark_runs_a_quick_version(capsys):
    assert bench_ladder.main(["--quick", "--json"]) == 0
    import json

    out = json.loads(capsys.readouterr().out)
    assert out["draws"] == 3 and 0 <= out["coverage"] <= 1 and len(out["cases"]) == 3
    assert all(c["acc_lower"] <= c["acc_pred"] <= c["acc_upper"] for c in out["cases"])


sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    import bench_ladder_methods
finally:
    sys.path.pop(0)


@pytest.fixture(scope="module")
def methods_ladder():
    """A noisy-checkpoint ladder (30 checkpoints a run) with three tasks: ``task`` (two-step truth), ``nofloor`` (a
    task loss without a floor, E = 0) and ``noisy`` (accuracy checkpoint noise 0.15: unpredictable)."""
    runs, truth = bench_ladder_methods.draw(2)
    rng = np.random.default_rng(0)
    n, d = runs["n_params"], runs["tokens"]
    runs = runs.assign(bpb_nofloor=truth["A"] / n ** truth["alpha"] + truth["B"] / d ** truth["beta"],
                       acc_nofloor=runs["acc_task"],
                       bpb_noisy=runs["bpb_task"], acc_noisy=runs["acc_task"] + 0.15 * rng.standard_normal(len(runs)))
    res = _ladder(runs, loss_cols="bpb_*", acc_cols="acc_*", bootstrap=0, calibrate=False, chance=0.25,
                  reduce="mean-last=5", smooth=5)
    return runs, truth, res


def test_paper_settings_reach_both_steps(methods_ladder):
    runs, _, res = methods_ladder
    assert res.options["reduce"] == "mean-last=5" and res.options["smooth"] == 5
    step1 = res.loss_fit["task"]
    assert step1.stats["n"] == 16  # one reduced row per run
    report = res.report()
    assert "checkpoints reduced by mean-last=5" in report and "smoothed over 5 checkpoints" in report
    last = _ladder(runs[["run_id", "n_params", "tokens", "step", "bpb_task", "acc_task"]], loss_cols="bpb_*",
                   acc_cols="acc_*", bootstrap=0, calibrate=False, direct=False)
    assert last.loss_fit["task"].params != step1.params  # the reducer changed what step 1 saw
    assert last.direct_fit is None and last.choice == {} and last.method("task") == "two-step"


def test_notes_name_their_task(methods_ladder):
    _, _, res = methods_ladder
    floor = [n for n in res.notes if n.startswith("task nofloor, step 1 (chinchilla)")]
    assert floor and ("E" in floor[0])  # the collapsed loss floor, said for the task it concerns
    assert not any(n.startswith("task task, step 1") for n in res.notes)


def test_direct_method_choice_and_triage(methods_ladder):
    _, _, res = methods_ladder
    assert res.direct_fit is not None and res.direct_fit.law == "downstream-acc-compute"
    assert set(res.choice) == {"noisy", "nofloor", "task"}
    c = res.choice["task"]
    assert c["method"] in ("two-step", "direct") and c["held_out"] == "N = 1.3e+09 (4 runs)"
    assert c["method"] == min(("two-step", "direct"), key=lambda m: c[m])  # the lower backtest error wins
    assert res.triage["noisy"]["flagged"] and not res.triage["task"]["flagged"]
    assert res.triage["noisy"]["noise"] > 5 * res.triage["task"]["noise"]
    assert res.triage["task"]["snr"] > 5 > res.triage["noisy"]["snr"]
    assert "UNPREDICTABLE" in res.report() and "methods and predictability" in res.report()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pred = res.predict({"N": [7e9], "D": [4e12]})
    assert set(pred["method"]) <= {"two-step", "direct"} and {"acc_direct", "acc_two_step"} <= set(pred.columns)
    for _, row in pred.iterrows():
        assert row.acc_pred == (row.acc_direct if row.method == "direct" else row.acc_two_step)


def test_ladder_files_round_trip_and_version_1_files_load(methods_ladder):
    _, _, res = methods_ladder
    back = LadderResult.from_json(res.to_json())
    assert back.report() == res.report() and back.choice == res.choice
    old = res.to_dict()
    old["schema"] = "scalefit.ladder/1"
    for key in ("direct_fit", "choice", "triage"):
        old.pop(key)
    v1 = LadderResult.from_dict(old)
    assert v1.direct_fit is None and v1.method("task") == "two-step"
    with pytest.raises(RunDataError, match="threshold"):
        _ladder(methods_ladder[0], loss_cols="bpb_*", acc_cols="acc_*", threshold=0.0)


def test_mean_last_places_the_mean_at_the_mean_tokens():
    """mean-last=K averages the metric and the progress (tokens, compute) over the same K checkpoints, so a loss
    falling linearly in the tokens stays on its line; last keeps the last checkpoint; with or without a step column."""
    from scalefit.planning.ladder_methods import reduced_final

    tokens = np.array([1e9, 2e9, 3e9, 4e9, 5e9])
    frame = pd.DataFrame({"run_id": "r", "n_params": 1e8, "tokens": tokens, "flops": 6e8 * tokens,
                          "step": np.arange(5), "bpb_t": 3.0 - tokens / 1e9 * 0.1, "acc_t": 0.3})
    for log in (frame, frame.drop(columns="step")):
        long = long_table(RunTable.from_frame(log), loss_cols="bpb_*", acc_cols="acc_*")
        mean = reduced_final(long, {}, {"reduce": "mean-last=3"}, ["task_loss"]).frame
        assert len(mean) == 1 and mean["tokens"].iloc[0] == pytest.approx(4e9)
        assert mean["flops"].iloc[0] == pytest.approx(2.4e18) and mean["task_loss"].iloc[0] == pytest.approx(2.6)
        assert list(mean.columns) == list(long.frame.columns)
        last = reduced_final(long, {}, {"reduce": None}, ["task_loss"]).frame
        assert last["tokens"].iloc[0] == 5e9 and last["task_loss"].iloc[0] == pytest.approx(2.5)


def test_triage_flags_a_task_still_at_chance_without_a_backtest():
    """A ladder whose accuracy barely leaves the checkpoint noise across sizes (SNR < MIN_SNR, every size near
    chance) is flagged even with no backtest; a task that rises across sizes is not."""
    from scalefit.planning.ladder_methods import MIN_SNR, triage

    o = {"skip_first": 0.1, "reduce": "mean-last=5"}
    for seed, flagged in ((13, True), (2, False)):
        runs, _ = bench_ladder_methods.draw(seed)
        long = long_table(RunTable.from_frame(runs), loss_cols="bpb_*", acc_cols="acc_*")
        t = triage(long, o, {}, 0.05, {})["task"]
        assert np.isnan(t["expected_error"]) and t["flagged"] is flagged and (t["snr"] < MIN_SNR) is flagged
