"""Checkpoint-aware run logs (issue 14 item 2): reduce_runs (run key, order, skip-first, smoothing, reducers),
row weights, and the bootstrap resampling runs, in the library and through `scalefit fit`."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import RunDataError
from scalefit.fitting import fit_law
from scalefit.runs import RunTable, parse_reducer, read_runs, reduce_runs, run_column

TRUE = {"E": 1.8, "A": 400.0, "B": 410.0, "alpha": 0.34, "beta": 0.28}


def _loss(n, d):
    return TRUE["E"] + TRUE["A"] / n**TRUE["alpha"] + TRUE["B"] / d**TRUE["beta"]


def _checkpoints(noise: float = 0.0, seed: int = 0, shuffle: bool = True) -> pd.DataFrame:
    """21 runs (7 sizes x 3 token budgets), 10 checkpoints each, the rows shuffled within the file."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(np.geomspace(2e7, 1e9, 7)):
        for tpp in (10, 20, 40):
            for step in range(1, 11):
                d = n * tpp * step / 10
                rows.append({"run_id": f"r{i}-{tpp}", "step": step, "n_params": n, "n_tokens": d,
                             "loss": _loss(n, d) * np.exp(noise * rng.standard_normal())})
    frame = pd.DataFrame(rows)
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True) if shuffle else frame


def _table() -> RunTable:
    return RunTable.from_frame(pd.DataFrame({
        "run_id": ["a", "a", "a", "a", "b", "b", "b"],
        "step": [3, 1, 4, 2, 2, 1, 3],
        "n_params": [1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 2.0],
        "loss": [3.0, 5.0, 2.0, 4.0, 20.0, 30.0, 10.0],
        "acc": [0.3, 0.1, 0.4, 0.2, 0.5, 0.6, 0.7],
    }))


def test_last_takes_each_runs_last_checkpoint_by_step_and_keeps_its_line():
    out = reduce_runs(_table(), reduce="last")
    assert out.frame["run_id"].tolist() == ["a", "b"]
    assert out.frame["loss"].tolist() == [2.0, 10.0] and out.frame["step"].tolist() == [4, 3]
    assert out.location(out.frame.index[0]) == "<frame>:4"  # the last checkpoint's line in the file


def test_a_mean_over_the_last_checkpoints_is_placed_at_their_mean_tokens_not_the_last_ones():
    frame = _checkpoints(shuffle=False)
    out = reduce_runs(RunTable.from_frame(frame), reduce="mean-last=4", columns=["loss"]).frame.set_index("run_id")
    tail = frame.groupby("run_id").tail(4).groupby("run_id")[["loss", "n_tokens"]].mean()
    assert np.allclose(out["loss"], tail.loc[out.index, "loss"], rtol=1e-12)
    assert np.allclose(out["n_tokens"], tail.loc[out.index, "n_tokens"], rtol=1e-12)  # 0.85x the last tokens
    last = frame.groupby("run_id").tail(1).set_index("run_id")
    assert (out["n_tokens"] < last.loc[out.index, "n_tokens"]).all()
    assert (out["step"] == 10).all() and (out["n_params"] == last.loc[out.index, "n_params"]).all()
    assert reduce_runs(RunTable.from_frame(frame), reduce="last").frame["n_tokens"].max() == frame["n_tokens"].max()
    # a mapped tokens column is placed too; on noise-free checkpoints the mean loss lies closer to the law at the
    # mean tokens than at the last checkpoint's tokens, for every run
    renamed = RunTable.from_frame(frame.rename(columns={"n_tokens": "seen"}))
    mapped = reduce_runs(renamed, reduce="mean-last=4", columns=["loss"], mapping={"D": "seen"}).frame
    assert np.allclose(mapped["seen"].to_numpy(), tail.loc[mapped["run_id"], "n_tokens"].to_numpy(), rtol=1e-12)
    at_mean = np.abs(mapped["loss"] / _loss(mapped["n_params"], mapped["seen"]) - 1)
    at_last = np.abs(mapped["loss"] / _loss(mapped["n_params"], last.loc[mapped["run_id"], "n_tokens"].to_numpy()) - 1)
    assert at_mean.max() < at_last.min()


def test_mean_last_min_max_reduce_the_metrics_and_keep_the_rest_from_the_last_checkpoint():
    t = _table()
    mean = reduce_runs(t, reduce="mean-last=2", columns=["loss"])
    assert mean.frame["loss"].tolist() == [2.5, 15.0]
    assert mean.frame["acc"].tolist() == [0.4, 0.7]  # not a metric here: the last checkpoint's value
    assert reduce_runs(t, reduce="mean-last=10", columns=["loss"]).frame["loss"].tolist() == [3.5, 20.0]
    assert reduce_runs(t, reduce="min").frame["loss"].tolist() == [2.0, 10.0]
    both = reduce_runs(t, reduce="max")  # default metrics: every numeric column but the key, order and sizes
    assert both.frame["loss"].tolist() == [5.0, 30.0] and both.frame["acc"].tolist() == [0.4, 0.7]
    assert both.frame["n_params"].tolist() == [1.0, 2.0]


def test_skip_first_drops_the_first_fraction_of_each_run():
    out = reduce_runs(_table(), skip_first=0.5)
    assert out.frame["step"].tolist() == [3, 4, 2, 3]  # floor(0.5*4) = 2 of a's, floor(0.5*3) = 1 of b's
    assert reduce_runs(_table(), skip_first=0.99).frame.groupby("run_id").size().tolist() == [1, 1]


def test_smooth_is_a_trailing_moving_average_per_run():
    out = reduce_runs(_table(), smooth=2, columns=["loss"])
    assert out.frame["loss"].tolist() == [5.0, 4.5, 3.5, 2.5, 30.0, 25.0, 15.0]
    combined = reduce_runs(_table(), skip_first=0.25, smooth=2, reduce="last", columns=["loss"])
    assert combined.frame["loss"].tolist() == [2.5, 15.0]


def test_order_falls_back_to_tokens_then_file_order():
    t = _table()
    tokens = RunTable.from_frame(t.frame.drop(columns="step").assign(tokens=t.frame["step"] * 1e6))
    assert reduce_runs(tokens, reduce="last").frame["loss"].tolist() == [2.0, 10.0]
    plain = RunTable.from_frame(t.frame.drop(columns="step"))
    assert reduce_runs(plain, reduce="last").frame["loss"].tolist() == [4.0, 10.0]  # the file's last rows
    assert reduce_runs(t, reduce="last", order="acc").frame["loss"].tolist() == [2.0, 10.0]


def test_run_key_aliases_and_explicit_run():
    frame = _table().frame.rename(columns={"run_id": "run_name"})
    assert run_column(RunTable.from_frame(frame)) == "run_name"
    assert run_column(RunTable.from_frame(frame.drop(columns="run_name"))) is None
    out = reduce_runs(RunTable.from_frame(frame.assign(size=frame["n_params"])), run="size", reduce="last")
    assert len(out) == 2


def test_nothing_asked_returns_the_table_itself():
    t = _table()
    assert reduce_runs(t) is t


@pytest.mark.parametrize("kwargs, message", [
    ({"reduce": "median"}, "choose one of last, mean-last=K, min, max"),
    ({"reduce": "mean-last=0"}, "choose one of"),
    ({"reduce": "mean-last=x"}, "choose one of"),
    ({"skip_first": 1.0}, "must be in [0, 1)"),
    ({"skip_first": -0.1}, "must be in [0, 1)"),
    ({"smooth": 0}, "whole number of checkpoints >= 1"),
    ({"smooth": 2.5}, "whole number of checkpoints >= 1"),
    ({"reduce": "last", "run": "nope"}, "--run 'nope' is not a column"),
    ({"reduce": "last", "order": "nope"}, "--order 'nope' is not a column"),
    ({"reduce": "last", "columns": ["run_id"]}, "is the run key or the checkpoint order"),
    ({"reduce": "last", "columns": ["nope"]}, "no column 'nope' to reduce"),
])
def test_bad_reducer_options(kwargs, message):
    with pytest.raises(RunDataError) as err:
        reduce_runs(_table(), **kwargs)
    assert message in str(err.value)


def test_bad_run_data_names_the_cell():
    frame = _table().frame
    with pytest.raises(RunDataError, match=r"<frame>:4:run_id: empty run key"):
        reduce_runs(RunTable.from_frame(frame.assign(run_id=frame["run_id"].where(frame.index != 2))), reduce="last")
    with pytest.raises(RunDataError, match=r"<frame>:3:step: checkpoint order"):
        reduce_runs(RunTable.from_frame(frame.assign(step=frame["step"].where(frame.index != 1))), reduce="last")
    with pytest.raises(RunDataError, match="not numeric"):
        reduce_runs(RunTable.from_frame(frame.assign(note="x")), reduce="min", columns=["note"])
    with pytest.raises(RunDataError, match="no column names the runs"):
        reduce_runs(RunTable.from_frame(frame.drop(columns="run_id")), reduce="last")


def test_parse_reducer():
    assert str(parse_reducer("Mean-Last=3")) == "mean-last=3" and parse_reducer("last").kind == "last"


def test_fit_on_the_last_checkpoints_recovers_the_law_and_records_the_reduction():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = fit_law("chinchilla", _checkpoints(), reduce="last", calibrate=False)
    assert fit.data["n_rows"] == 21
    assert fit.data["runs"] == {"run": "run_id", "reduce": "last", "skip_first": 0.0, "smooth": None,
                                "order": "step"}
    for k, v in TRUE.items():
        assert fit.params[k] == pytest.approx(v, rel=1e-3)
    assert "runs     per 'run_id', checkpoints by step: reduce last" in fit.report()


def test_the_bootstrap_resamples_runs_when_runs_have_several_rows():
    frame = _checkpoints(noise=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        every = fit_law("chinchilla", frame, skip_first=0.5, bootstrap=5, calibrate=False)
        per_run = fit_law("chinchilla", frame.rename(columns={"run_id": "run"}), reduce="last", bootstrap=5,
                          calibrate=False)
    assert every.data["n_rows"] == 105 and every.data["bootstrap_unit"] == "run_id"
    assert per_run.data["bootstrap_unit"] == "row"  # one row per run: resampling runs is resampling rows


def test_integer_weights_equal_repeated_rows_and_zero_weights_dropped_rows():
    frame = _checkpoints(noise=0.01, shuffle=False).iloc[9::10].reset_index(drop=True)  # the last checkpoints
    w = np.tile([0.0, 1.0, 2.0], 7)
    repeated = frame.loc[np.repeat(frame.index, w.astype(int))].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        weighted = fit_law("chinchilla", frame.assign(w=w), weight="w", calibrate=False)
        plain = fit_law("chinchilla", repeated, calibrate=False)
    assert weighted.data["weight"] == "w"
    for k in TRUE:
        assert weighted.params[k] == pytest.approx(plain.params[k], rel=1e-4), k
    assert weighted.stats["objective"] == pytest.approx(plain.stats["objective"], rel=1e-6)


@pytest.mark.parametrize("values, message", [
    ([np.nan], "weight nan is not a finite number >= 0"),
    ([-1.0], "weight -1.0 is not a finite number >= 0"),
    ([np.inf], "is not a finite number >= 0"),
    ("zeros", "every row's weight (w) is 0"),
])
def test_bad_weights(values, message):
    frame = _checkpoints(shuffle=False).iloc[9::10].reset_index(drop=True)
    w = np.zeros(len(frame)) if values == "zeros" else np.r_[np.ones(len(frame) - 1), values]
    with pytest.raises(RunDataError) as err:
        fit_law("chinchilla", frame.assign(w=w), weight="w", calibrate=False)
    assert message in str(err.value)
    with pytest.raises(RunDataError, match="--weight 'nope' is not a column"):
        fit_law("chinchilla", frame, weight="nope", calibrate=False)


def test_cli_reduce_smooth_skip_and_weight(tmp_path):
    runs = tmp_path / "ckpt.csv"
    _checkpoints(noise=0.005).assign(w=1.0).to_csv(runs, index=False)
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(runs), "--skip-first", "0.2", "--smooth", "2",
                                   "--reduce", "mean-last=2", "--weight", "w", "--run", "run_id", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)["data"]
    assert data["n_rows"] == 21 and data["weight"] == "w"
    assert data["runs"] == {"run": "run_id", "reduce": "mean-last=2", "skip_first": 0.2, "smooth": 2,
                            "order": "step"}
    bad = CliRunner().invoke(app, ["fit", "chinchilla", str(runs), "--reduce", "median"])
    assert bad.exit_code == 1 and "choose one of last, mean-last=K, min, max" in bad.output


def test_backtest_reduces_before_the_holdout(tmp_path):
    runs = tmp_path / "ckpt.csv"
    _checkpoints(noise=0.005).to_csv(runs, index=False)
    res = CliRunner().invoke(app, ["backtest", "chinchilla", str(runs), "--reduce", "last", "--holdout",
                                   "N >= 5e8", "--json"])
    assert res.exit_code == 0, res.output
    payload = json.loads(res.stdout)
    n_holdout = payload["n_holdout"] if "n_holdout" in payload else payload["summary"]["n_holdout"]
    assert n_holdout == 3 * sum(n >= 5e8 for n in np.geomspace(2e7, 1e9, 7))


def test_library_backtest_reduces_both_sides_as_the_cli_does(tmp_path):
    import scalefit

    runs = tmp_path / "ckpt.csv"
    _checkpoints(noise=0.005).to_csv(runs, index=False)
    lib = scalefit.backtest("chinchilla", runs, holdout="N >= 5e8", reduce="last", interval=None)
    n_held = 3 * sum(n >= 5e8 for n in np.geomspace(2e7, 1e9, 7))
    assert len(lib.rows) == n_held  # one row per held-out run: its last checkpoint, not all of them
    assert lib.fit.stats["n"] == 3 * 7 - n_held
    res = CliRunner().invoke(app, ["backtest", "chinchilla", str(runs), "--reduce", "last", "--holdout",
                                   "N >= 5e8", "--interval", "none", "--json"])
    assert res.exit_code == 0, res.output
    cli = json.loads(res.stdout)
    assert cli["scores"]["mean_abs_rel_error"] == pytest.approx(lib.scores["mean_abs_rel_error"], rel=1e-9)


def test_reduced_table_reads_back_the_same_from_a_file(tmp_path):
    path = tmp_path / "runs.csv"
    _table().frame.to_csv(path, index=False)
    out = reduce_runs(read_runs(path), reduce="last")
    assert out.location(out.frame.index[1], "loss") == f"{path}:8:loss"
