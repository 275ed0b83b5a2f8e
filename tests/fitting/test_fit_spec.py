"""FitSpec (issue 22): one value for how a fit is made, stored in the fit file; fold refits (select, backtest
--folds, the calibration) that never see their held-out rows; one AIC for the fit report and the select board."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import FitError, FitFileError
from scalefit.fitting import api
from scalefit.fitting.backtesting import backtest_folds
from scalefit.fitting.result import FitResult
from scalefit.fitting.select import select
from scalefit.fitting.spec import FitSpec
from scalefit.laws import get_law

POWER = {"x": "N"}  # L = E + A N^-alpha: 3 parameters, one input, so every fold rolls along N
N_ROWS, N_TOP = 20, 2  # the N_TOP largest N are held out by every fold of select, backtest --folds and calibration


def _runs(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = np.logspace(6, 10, N_ROWS)
    return pd.DataFrame({"N": n, "L": (1.5 + 60.0 * n**-0.25) * np.exp(rng.normal(0, 0.01, N_ROWS))})


def _moved(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` with the target of its N_TOP largest runs moved far: rows every fold holds out."""
    out = df.copy()
    top = out["N"].nlargest(N_TOP).index
    out.loc[top, "L"] *= 1.6
    return out


@pytest.fixture()
def spy(monkeypatch):
    """Every fold refit's training rows (row labels) and the parameters it found."""
    calls: list[tuple[list, object]] = []
    real = api.refit_parts

    def recording(jobs):
        found = real(jobs)
        calls.extend((sorted(t.frame.index), p) for (_, t), p in zip(jobs, found))
        return found

    monkeypatch.setattr(api, "refit_parts", recording)
    monkeypatch.setattr("scalefit.fitting.select.refit_parts", recording)
    return calls


def _held_out(df: pd.DataFrame) -> set:
    return set(df["N"].nlargest(N_TOP).index)


def _check_no_leak(calls_a: list, calls_b: list, held: set) -> None:
    assert calls_a, "no fold refit was recorded"
    for rows, _ in calls_a:
        assert not held & set(rows), f"a fold refit saw held-out rows {sorted(held & set(rows))}"
    # moving the held-out rows moves nothing a fold refit found: not its rows, not its start
    assert [r for r, _ in calls_a] == [r for r, _ in calls_b]
    assert [p for _, p in calls_a] == [p for _, p in calls_b]


def test_select_fold_refits_never_see_held_out_rows(spy):
    df = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = select(df, [("power", POWER)], objectives=["huber"], folds=2, fraction=0.1, along="N")
        calls_a = list(spy)
        spy.clear()
        b = select(_moved(df), [("power", POWER)], objectives=["huber"], folds=2, fraction=0.1, along="N")
    _check_no_leak(calls_a, list(spy), _held_out(df))
    # the held-out rows did change what the folds are scored on, so the spy compared real refits
    assert a.board[0]["rmsle"] != b.board[0]["rmsle"]


def test_backtest_folds_refits_never_see_held_out_rows(spy, monkeypatch):
    seen: list = []
    real_fit = FitSpec.fit

    def fit(self, data):
        seen.append(set(api.as_table(data).frame.index))
        return real_fit(self, data)

    monkeypatch.setattr(FitSpec, "fit", fit)
    df = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = backtest_folds("power", df, law_options=POWER, folds=2, fraction=0.1, along="N")
        calls_a = list(spy)
        spy.clear()
        b = backtest_folds("power", _moved(df), law_options=POWER, folds=2, fraction=0.1, along="N")
    held = _held_out(df)
    assert seen and all(not held & rows for rows in seen)
    _check_no_leak(calls_a, list(spy), held)
    for x, y in zip(a, b):  # each fold's fit and calibration: the same whatever its held-out rows hold
        assert x.fit.params == y.fit.params and x.fit.calibration == y.fit.calibration
        assert not np.array_equal(x.rows["actual"], y.rows["actual"])


def test_backtest_refits_are_one_spec_fitted_on_the_training_rows(monkeypatch):
    """The library backtest builds one FitSpec from its keywords (or is given one); the holdout's refit and every
    fold's are that spec's fit on the training rows, and nothing else, whichever form the call takes."""
    fitted: list = []
    real_fit = FitSpec.fit

    def fit(self, data):
        fitted.append(self)
        return real_fit(self, data)

    monkeypatch.setattr(FitSpec, "fit", fit)
    df = _runs().rename(columns={"N": "n"})
    spec = FitSpec.of("power", law_options=POWER, mapping={"N": "n"}, where="n > 1e6", seed=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = scalefit.backtest(spec, df, holdout="n > 5e9", interval=None)
        b = scalefit.backtest("power", df, holdout="n > 5e9", where="n > 1e6", interval=None, law_options=POWER,
                              map={"N": "n"}, seed=2)
        folds = backtest_folds(spec, df, folds=2, fraction=0.1, interval=None)
    assert fitted == [spec.replace(where=None, calibrate=False)] * 4 and len(folds) == 2
    assert a.fit.params == b.fit.params and a.rows.equals(b.rows) and len(a.rows) == 2
    with pytest.raises(TypeError, match=r"drop \['bootstrap', 'where'\]"):
        scalefit.backtest(spec, df, holdout="n > 5e9", where="n > 0", bootstrap=10)
    with pytest.warns(DeprecationWarning, match=r"backtest\(mapping=...\) is deprecated: use map="):
        old = scalefit.backtest("power", df, holdout="n > 5e9", where="n > 1e6", interval=None, law_options=POWER,
                                mapping={"N": "n"}, seed=2)
    assert old.rows.equals(a.rows)


def test_calibration_fold_refits_never_see_held_out_rows(spy):
    df = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = scalefit.fit("power", df, law_options=POWER)
        calls_a = list(spy)
        spy.clear()
        b = scalefit.fit("power", _moved(df), law_options=POWER)
    _check_no_leak(calls_a, list(spy), _held_out(df))
    assert a.calibration and a.params != b.params  # the full fits differ; the folds' refits do not


def test_spec_fit_is_fit_law_and_round_trips_through_the_fit_file(tmp_path):
    df = _runs()
    spec = FitSpec.of("power", law_options=POWER, loss="mse", where="N > 1e6", calibrate=False,
                      anchors=["N=1e12,L=1.5,weight=0.5"])
    res = spec.fit(df)
    same = api.fit_law("power", df, law_options=POWER, loss="mse", where="N > 1e6", calibrate=False,
                       anchors=["N=1e12,L=1.5,weight=0.5"])
    assert res.params == same.params and res.spec == same.spec == spec
    assert spec.space == "log" and spec.replace(space="raw").space == "raw" and spec.space == "log"
    assert repr(spec) == ("FitSpec('power', law_options={'x': 'N'}, where='N > 1e6', loss='mse', calibrate=False, "
                          "anchors=({'N': 1000000000000.0, 'L': 1.5, 'weight': 0.5},))")  # defaults left out
    path = tmp_path / "fit.json"
    res.save(path)
    loaded = scalefit.load(path)
    assert isinstance(loaded.spec, FitSpec) and loaded.spec == spec
    assert loaded.spec.fit(df).params == res.params  # the stored spec refits the same fit
    grouped = spec.fit_groups(df.assign(g=np.arange(len(df)) % 2), "g")
    assert grouped.spec == spec and all(g.spec == spec for g in grouped.values())


def test_old_fit_files_load_and_a_bad_stored_spec_is_refused(tmp_path):
    res = FitSpec.of("power", law_options=POWER, calibrate=False).fit(_runs())
    d = res.to_dict()
    old = {k: v for k, v in d.items() if k != "spec"}
    assert FitResult.from_dict(old).spec is None and FitResult.from_dict(old).params == res.params
    for field, value, message in (("loss", "l1", "unknown loss"), ("bootstrap", -1, "bootstrap"),
                                  ("seed", "x", "spec.seed"), ("colour", 1, "unknown field"),
                                  ("starts", "grid", "spec.starts")):
        bad = json.loads(json.dumps(d))
        bad["spec"][field] = value
        with pytest.raises(FitFileError, match=message):
            FitResult.from_dict(bad)


def test_spec_refuses_bad_values_and_start_policies():
    law = get_law("power", x="N")
    with pytest.raises(FitError, match="unknown loss"):
        FitSpec(law, loss="l3")
    with pytest.raises(FitError, match="must be a Law"):
        FitSpec("power")
    with pytest.raises(FitError, match=r"\(S, 3\)"):
        FitSpec(law, starts=np.ones((2, 2)))
    with pytest.raises(FitError, match=">= 1"):
        FitSpec(law, starts=0)
    sample = FitSpec(law, starts=5, seed=3)
    assert sample.start_points().shape == (5, 3)
    assert np.array_equal(sample.start_points(), FitSpec(law, starts=5, seed=3).start_points())
    assert not np.array_equal(sample.start_points(), FitSpec(law, starts=5, seed=4).start_points())


def test_one_aic_on_the_fit_report_and_the_select_board():
    df = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        board = select(df, [("power", POWER)], objectives=["huber", "mse"], folds=2, along="N").board
        fits = {"huber": scalefit.fit("power", df, law_options=POWER, calibrate=False),
                "mse": scalefit.fit("power", df, law_options=POWER, loss="mse", space="raw", calibrate=False)}
    for entry in board:
        fit = fits[entry["objective"]]
        assert entry["aic"] == pytest.approx(fit.stats["aic"], rel=1e-12)
        assert entry["bic"] == pytest.approx(fit.stats["bic"], rel=1e-12)
        assert f"AIC = {entry['aic']:.2f}" in fit.report()
    # on log residuals whatever the objective: n ln(RMSE_log^2) + 2k for the raw-space fit too
    st = fits["mse"].stats
    assert st["aic"] == pytest.approx(st["n"] * np.log(st["rmse_log"] ** 2) + 2 * 3, rel=1e-9)
    assert fits["huber"].stats["aic"] != fits["mse"].stats["aic"]


def test_fit_shows_its_keywords_and_map_is_the_cli_name():
    import inspect

    params = inspect.signature(scalefit.fit).parameters
    assert {"map", "where", "bootstrap", "anchors", "calibrate"} <= set(params) and "mapping" not in params
    df = _runs().rename(columns={"N": "n_params"})
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        new = scalefit.fit("power", df, law_options=POWER, map={"N": "n_params"}, calibrate=False)
    with pytest.warns(DeprecationWarning, match="use map="):
        old = scalefit.fit("power", df, law_options=POWER, mapping={"N": "n_params"}, calibrate=False)
    assert new.params == old.params and new.spec.mapping == {"N": "n_params"}
    with pytest.raises(TypeError, match="once"):
        scalefit.fit("power", df, law_options=POWER, map={"N": "n_params"}, mapping={"N": "n_params"})


def test_results_read_short_in_repr_and_whole_in_str():
    df = _runs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = scalefit.fit("power", df, law_options=POWER, calibrate=False)
        grouped = scalefit.fit("power", df.assign(g=np.arange(len(df)) % 2), law_options=POWER, group_by="g",
                               calibrate=False)
        bt = backtest_folds("power", df, law_options=POWER, folds=1, fraction=0.2, along="N", interval=None)[0]
    assert repr(fit).startswith("FitResult('power', E=") and repr(fit).endswith(f"n={N_ROWS})")
    assert "\n" not in repr(fit) and str(fit) == fit.report() and "law      power" in str(fit)
    assert fit._repr_html_().startswith("<pre>") and "&lt;" not in fit.report()
    assert repr(grouped) == "FitSet('power', by='g', keys=['0', '1'])" and str(grouped) == grouped.report()
    assert bt.report().startswith("backtest power: fitted on 16 rows, held out 4") and str(bt) == bt.report()
    assert "mean_abs_rel_error=" in repr(bt) and "\n" not in repr(bt)


def test_the_cli_builds_the_librarys_spec(tmp_path):
    """`scalefit fit` makes its FitSpec from its options directly (cli.fit_cmd.FitOptions.spec): the fit file's
    spec equals the library's for the same options, and FitSpec itself refuses a bad --map or seed."""
    from typer.testing import CliRunner

    from scalefit.cli.app import app

    path = tmp_path / "runs.csv"
    _runs().rename(columns={"N": "params", "L": "loss"}).assign(w=1.0).to_csv(path, index=False)
    args = ["fit", "power", str(path), "--x", "N", "--map", "N=params", "--where", "params > 1e6", "--fix", "E=1.5",
            "--weight", "w", "--loss", "mse", "--seed", "3", "--out", str(tmp_path / "fit.json")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    stored = scalefit.load(tmp_path / "fit.json").spec
    same = FitSpec.of("power", law_options=POWER, fix={"E": 1.5}, mapping={"N": "params"}, where="params > 1e6",
                      weight="w", loss="mse", seed=3)
    assert stored == same and stored != same.replace(seed=4)
    with pytest.raises(scalefit.errors.RunDataError, match="'X' is not a symbol of law 'power'"):
        FitSpec.of("power", law_options=POWER, mapping={"X": "params"})
    with pytest.raises(scalefit.errors.ConfigError, match="seed -1"):
        FitSpec.of("power", law_options=POWER, seed=-1)
