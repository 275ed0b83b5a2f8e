"""Every result type through the one protocol: save -> scalefit.load -> report -> predict -> plot, and
procedures reached from the library by name (scalefit.fit("isoflop", ...))."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pytest

import scalefit
from scalefit.errors import FitError, FitFileError
from scalefit.fitting.fit_set import FitSet
from scalefit.fitting.lr_transfer_result import LRTransferResult
from scalefit.fitting.result import FitResult
from scalefit.fitting.selection_result import SelectionResult
from scalefit.planning.frontier import FrontierResult
from scalefit.planning.hparams import HparamFit
from scalefit.planning.ladder_result import LadderResult
from scalefit.procedures import PROCEDURES
from scalefit.results import RESULT_TYPES, Result, load

matplotlib.use("Agg")
RUNS = Path(__file__).resolve().parents[1] / "runs"


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _json(d: dict) -> str:
    import json

    from scalefit._io import json_default

    return json.dumps(d, sort_keys=True, default=json_default)


def _steplaw_like():
    """A small synthetic lr x batch grid over 4 (N, D) cells with a known valley."""
    import pandas as pd

    rng = np.random.default_rng(0)
    rows = []
    for n, d in ((1e8, 2e9), (1e8, 8e9), (4e8, 8e9), (4e8, 3.2e10)):
        lr_opt, b_opt = 2.0 * n**-0.7 * d**0.3, 0.6 * d**0.57
        for lr in lr_opt * 2.0 ** np.arange(-3, 3.5, 0.5):
            for b in b_opt * 2.0 ** np.arange(-2, 2.5, 1.0):
                loss = 2 + 30 * n**-0.2 + 0.02 * np.log(lr / lr_opt) ** 2 + 0.01 * np.log(b / b_opt) ** 2
                rows.append({"N": n, "D": d, "lr": lr, "bs": b / 2048, "loss": loss * (1 + 1e-4 * rng.normal())})
    return pd.DataFrame(rows)


CASES = {
    "law": (lambda: scalefit.fit("chinchilla", RUNS / "chinchilla-cpu" / "runs.csv", bootstrap=20), FitResult,
            {"N": [1e6], "D": [1e8]}),
    "grouped-law": (lambda: scalefit.fit("power", RUNS / "lr-transfer-cpu" / "runs.csv", law_options={"x": "lr"},
                                         group_by="width", where="status == 'ok'"), FitSet, {"lr": [1e-3]}),
    "isoflop": (lambda: scalefit.fit("isoflop", RUNS / "chinchilla-cpu" / "runs.csv", bootstrap=20), FrontierResult,
                [1e13]),
    "envelope": (lambda: scalefit.fit("envelope", RUNS / "chinchilla-cpu" / "curves.csv", bootstrap=10),
                 FrontierResult, [1e13]),
    "hparams": (lambda: scalefit.fit("hparams", _steplaw_like(), seq_len=2048, loo=False, surface=False),
                HparamFit, {"N": [1e9], "D": [1e11]}),
    "lr-transfer": (lambda: scalefit.fit("lr-transfer", RUNS / "lr-transfer-cpu" / "runs.csv", bootstrap=20),
                    LRTransferResult, [1024]),
    "select": (lambda: __import__("scalefit.fitting.select", fromlist=["select"]).select(
        RUNS / "chinchilla-cpu" / "runs.csv", ["chinchilla", "kaplan"]), SelectionResult, {"N": [1e6], "D": [1e8]}),
    "lr-annealing": (lambda: scalefit.fit("lr-annealing", RUNS / "schedules-cpu", where="step >= 400").fit,
                     FitResult, None),
    "ladder": (lambda: scalefit.fit("ladder", RUNS / "ladder-cpu" / "curves.csv", loss_cols="loss_*",
                                    acc_cols="acc_*", where="n_params < 1e5", bootstrap=20),
               LadderResult, None),  # predict (a frame with a task column): tests/fitting/test_ladder.py
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_every_result_type_round_trips_reports_predicts_and_plots(name, tmp_path):
    make, cls, points = CASES[name]
    result = _quiet(make)
    assert isinstance(result, cls) and isinstance(result, Result)
    path = result.save(tmp_path / f"{name}.json")
    loaded = load(path)
    assert type(loaded) is cls
    assert _json(loaded.to_dict()) == _json(result.to_dict())  # NaN-safe equality
    assert isinstance(loaded.report(), str) and loaded.report() == result.report()
    if points is not None:
        got = _quiet(loaded.predict, points)
        values = got if not isinstance(got, dict) else list(got.values())
        assert np.all(np.isfinite(np.concatenate([np.ravel(v) for v in np.atleast_1d(values)])))
    runs = RUNS / "schedules-cpu" if name == "lr-annealing" else None
    fig = _quiet(loaded.plot, runs)
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
    matplotlib.pyplot.close(fig)


def test_every_registered_schema_is_covered():
    schemas = {case[1] for case in CASES.values()}
    assert {RESULT_TYPES[s].split(":")[1] for s in RESULT_TYPES} == {c.__name__ for c in schemas}


def test_every_procedure_is_reachable_from_the_library():
    assert set(PROCEDURES) <= set(CASES)
    with pytest.raises(FitError, match="does not take \\['nonsense'\\]"):
        scalefit.fit("isoflop", RUNS / "chinchilla-cpu" / "runs.csv", nonsense=1)


def test_results_are_deeply_immutable():
    fit = _quiet(scalefit.fit, "chinchilla", RUNS / "chinchilla-cpu" / "runs.csv", bootstrap=5)
    before = fit.predict({"N": [1e6], "D": [1e8]})
    for mutate in (lambda: fit.params.__setitem__("E", 0.0), lambda: fit.bootstrap["E"].append(1.0),
                   lambda: fit.data["ranges"].pop("N"), lambda: fit.stats.update(n=0),
                   lambda: fit.identifiability.append({})):
        with pytest.raises(TypeError, match="read-only"):
            mutate()
    assert fit.predict({"N": [1e6], "D": [1e8]}) == pytest.approx(before)
    copy = fit.to_dict()  # a plain, mutable copy
    copy["params"]["E"] = 0.0
    assert fit.params["E"] != 0.0


@pytest.mark.parametrize("name", ["isoflop", "lr-transfer", "hparams"])
def test_procedure_results_are_immutable_too(name):
    result = _quiet(CASES[name][0])
    container = {"isoflop": lambda r: r.points, "lr-transfer": lambda r: r.params, "hparams": lambda r: r.cells}[name]
    with pytest.raises(TypeError, match="read-only"):
        container(result).append({}) if isinstance(container(result), list) else container(result).clear()


def test_load_refuses_an_unknown_schema(tmp_path):
    (tmp_path / "x.json").write_text('{"schema": "other/1"}')
    with pytest.raises(FitFileError, match="not a scalefit result"):
        load(tmp_path / "x.json")
