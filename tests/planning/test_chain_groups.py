"""Chained prediction over every group in one call (chain_predict_groups and `scalefit predict --chain`)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import FitError
from scalefit.planning.chain import chain_predict, chain_predict_groups
from tests.planning.test_chain import _fit

runner = CliRunner()
TASKS = {"arc": (2.0, 158.0, 0.30, 0.25, 0.9, 4.0, 3.0), "mmlu": (2.4, 200.0, 0.32, 0.25, 0.7, 3.0, 3.4)}


def _loss(task, N):
    E, A, alpha = TASKS[task][:3]
    return E + A * N**-alpha


def _acc(task, L):
    floor, ceiling, k, L0 = TASKS[task][3:]
    return floor + (ceiling - floor) / (1 + np.exp(k * (L - L0)))


def _runs(seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for task in TASKS:
        for N in np.logspace(6, 8, 12):
            L = _loss(task, N) * (1 + 0.003 * rng.standard_normal())
            rows.append({"task": task, "N": N, "loss": L, "acc": _acc(task, L) + 0.005 * rng.standard_normal()})
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def fits():
    runs = _runs()
    loss = _fit("power", runs, law_options={"x": "N"}, group_by="task", bootstrap=40, seed=1)
    acc = _fit("downstream-acc-sigmoid", runs, target="acc", mapping={"L": "loss"}, group_by="task", bootstrap=30,
               seed=2)
    one_loss = _fit("power", runs[runs.task == "arc"], law_options={"x": "N"}, bootstrap=40, seed=1)
    return runs, loss, acc, one_loss


def test_every_group_in_one_call_matches_the_per_group_chain(fits):
    _, loss, acc, _ = fits
    points = {"N": [3e8, 1e9]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = chain_predict_groups(loss, acc, points, seed=3)
        singles = {t: chain_predict(loss[t], acc[t], points, seed=3).frame for t in TASKS}
    assert list(out.frame.columns) == ["N", "task", "L_pred", "L_lower", "L_upper", "acc_pred", "acc_lower",
                                       "acc_upper"]
    assert out.group_by == "task" and out.pairing == "resampled" and out.n_samples == 40
    for task, single in singles.items():
        rows = out.frame[out.frame.task == task].reset_index(drop=True)
        pd.testing.assert_frame_equal(rows.drop(columns="task"), single, check_dtype=False)
        L = _loss(task, np.array(points["N"]))
        assert rows.L_pred.to_numpy() == pytest.approx(L, rel=0.02)
        assert rows.acc_pred.to_numpy() == pytest.approx(_acc(task, L), abs=0.03)
        assert (rows.acc_lower <= rows.acc_pred).all() and (rows.acc_pred <= rows.acc_upper).all()
        assert ((rows.acc_lower >= 0) & (rows.acc_upper <= 1)).all()


def test_one_loss_curve_feeds_every_group(fits):
    _, _, acc, one_loss = fits
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = chain_predict_groups(one_loss, acc, {"N": [1e9]}).frame
    assert sorted(out.task) == sorted(TASKS) and out.L_pred.nunique() == 1
    assert out.acc_pred.nunique() == 2  # the same loss through two different sigmoids


def test_inputs_with_the_group_column_predict_their_own_group(fits):
    _, loss, acc, _ = fits
    points = pd.DataFrame({"task": ["mmlu", "arc", "mmlu"], "N": [1e8, 1e8, 1e9]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = chain_predict_groups(loss, acc, points).frame
    assert list(out.task) == ["mmlu", "arc", "mmlu"] and len(out) == 3
    assert out.L_pred.to_numpy() == pytest.approx([_loss(t, n) for t, n in zip(points.task, points.N)], rel=0.02)
    with pytest.raises(FitError, match="'hellaswag' is not a group"):
        chain_predict_groups(loss, acc, pd.DataFrame({"task": ["hellaswag"], "N": [1e8]}))


def test_a_group_missing_from_either_fit_is_named(fits):
    runs, loss, _, _ = fits
    extra = runs.assign(task=runs.task.replace({"mmlu": "hellaswag"}))
    other = _fit("downstream-acc-sigmoid", extra, target="acc", mapping={"L": "loss"}, group_by="task")
    with pytest.raises(FitError, match="group 'hellaswag' has no match in the first"):
        chain_predict_groups(loss, other, {"N": [1e9]})


def test_widen_seam_propagates_through_both_stages(fits):
    _, loss, acc, _ = fits
    seen = []

    def widen(fit, x, samples):
        seen.append((fit.law, sorted(x), samples.shape, np.shape(next(iter(x.values())))))
        return samples + (0.5 if fit.law == "power" else 0.0)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = chain_predict(loss["arc"], acc["arc"], {"N": [1e9]}).frame
        wide = chain_predict(loss["arc"], acc["arc"], {"N": [1e9]}, widen=widen).frame
    assert seen == [("power", ["N"], (40, 1), (1,)), ("downstream-acc-sigmoid", ["L"], (40, 1), (1,))]
    assert wide.L_lower[0] == pytest.approx(plain.L_lower[0] + 0.5)
    assert wide.acc_upper[0] < plain.acc_upper[0]  # a higher loss feeds a lower accuracy
    assert wide.acc_pred[0] == plain.acc_pred[0]  # point predictions are not touched


def test_cli_chains_every_group_from_an_input_file(fits, tmp_path):
    runs, loss, acc, _ = fits
    loss.save(tmp_path / "loss.json")
    acc.save(tmp_path / "acc.json")
    pd.DataFrame({"N": [3e8, 1e9]}).to_csv(tmp_path / "targets.csv", index=False)
    res = runner.invoke(app, ["predict", str(tmp_path / "loss.json"), "--chain", str(tmp_path / "acc.json"),
                              "--input", str(tmp_path / "targets.csv"), "--out", str(tmp_path / "preds.csv")])
    assert res.exit_code == 0, res.output
    preds = pd.read_csv(tmp_path / "preds.csv")
    assert len(preds) == 4 and set(preds.task) == set(TASKS) and "acc_upper" in preds.columns
    one = runner.invoke(app, ["predict", str(tmp_path / "loss.json"), "--chain", str(tmp_path / "acc.json"),
                              "--at", "N=1e9", "--group", "mmlu", "--json"])
    assert one.exit_code == 0 and len(json.loads(one.stdout)["predictions"]) == 1
    extra = runs.assign(task=runs.task.replace({"mmlu": "hellaswag"}))
    _fit("downstream-acc-sigmoid", extra, target="acc", mapping={"L": "loss"}, group_by="task").save(
        tmp_path / "other.json")
    bad = runner.invoke(app, ["predict", str(tmp_path / "loss.json"), "--chain", str(tmp_path / "other.json"),
                              "--at", "N=1e9"])
    assert bad.exit_code == 1 and "hellaswag" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_cli_chain_takes_the_interval_option_like_a_plain_predict(fits, tmp_path):
    _, loss, acc, _ = fits
    loss.save(tmp_path / "loss.json")
    acc.save(tmp_path / "acc.json")
    base = ["predict", str(tmp_path / "loss.json"), "--chain", str(tmp_path / "acc.json"), "--at", "N=1e9",
            "--group", "arc", "--json"]
    plain = runner.invoke(app, [*base, "--interval", "none"])
    assert plain.exit_code == 0, plain.output
    (row,) = json.loads(plain.stdout)["predictions"]
    assert "acc_pred" in row and not [k for k in row if k.endswith(("_lower", "_upper"))]
    bad = runner.invoke(app, [*base, "--interval", "wide"])
    assert bad.exit_code == 1 and "--interval 'wide': one of prediction, mean, none" in bad.output


def test_a_grouped_fit_given_where_one_fit_is_needed_names_its_groups(fits):
    """The planning helpers take one fit (``fits["arc"]``); a FitSet gets member()'s error naming its groups."""
    from scalefit.planning.allocation import compute_optimal
    from scalefit.planning.lr_annealing import compare_schedules, predict_curve
    from scalefit.planning.overtrain import overtrain_alternatives

    _, loss, acc, _ = fits
    at = {"N": [1e9]}
    calls = [lambda: chain_predict(loss, acc["arc"], at), lambda: chain_predict(loss["arc"], acc, at),
             lambda: compute_optimal(loss, [1e22]), lambda: overtrain_alternatives(loss, [1e22], [2.0]),
             lambda: predict_curve(loss, np.ones(10)), lambda: compare_schedules(loss, steps=100, peak_lr=1e-3)]
    for call in calls:
        with pytest.raises(FitError, match=r"grouped by 'task'; say which group: one of \['arc', 'mmlu'\]"):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert chain_predict(loss["arc"], acc["arc"], at).frame.L_pred[0] == pytest.approx(_loss("arc", 1e9), rel=0.02)
