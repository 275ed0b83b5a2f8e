"""Every ExtrapolationWarning points at the user's line: warnings.catch_warnings records this file as the
warning's filename, whichever scalefit.fit result and prediction path raised it, however deep in scalefit."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import ExtrapolationWarning

FAR = {"N": [1e11], "D": [1e13]}  # 2 decades beyond the fitted N, D


@pytest.fixture(scope="module")
def runs():
    n, m = np.meshgrid(np.geomspace(1e7, 1e9, 5), [5.0, 10.0, 20.0, 40.0], indexing="ij")
    n, d = n.ravel(), (n * m).ravel()
    loss = 1.8 + 400 / n**0.34 + 2000 / d**0.28
    return pd.DataFrame({"N": n, "D": d, "loss": loss, "loss2": 1.1 * loss, "g": np.tile(["a", "b"], 10)})


@pytest.fixture(scope="module")
def fits(runs, tmp_path_factory):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = scalefit.fit("chinchilla", runs, bootstrap=20, seed=0)
        out = {"one": one,
               "grouped": scalefit.fit("chinchilla", runs, group_by="g", calibrate=False),
               "targets": scalefit.fit("chinchilla", runs, target=["loss", "loss2"], calibrate=False)}
    path = tmp_path_factory.mktemp("fits") / "one.json"
    one.save(path)
    out["loaded"] = scalefit.load(path)
    return out


def _origins(fn) -> list[tuple[str, int]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return [(w.filename, w.lineno) for w in caught if issubclass(w.category, ExtrapolationWarning)]


PATHS = {
    "predict": lambda f: f["one"].predict(FAR),
    "prediction interval": lambda f: f["one"].predict_interval(FAR),
    "mean interval": lambda f: f["one"].predict_interval(FAR, interval="mean"),
    "bootstrap samples": lambda f: f["one"].samples(FAR),
    "a group's prediction": lambda f: f["grouped"]["a"].predict(FAR),
    "a group's interval": lambda f: f["grouped"]["b"].predict_interval(FAR),
    "a target's prediction": lambda f: f["targets"]["loss2"].predict(FAR),
    "a loaded fit file": lambda f: f["loaded"].predict(pd.DataFrame(FAR)),
    "a plan": lambda f: __import__("scalefit.planning.allocation", fromlist=["x"]).compute_optimal(f["one"], [1e25]),
}


@pytest.mark.parametrize("path", sorted(PATHS))
def test_the_warning_names_the_callers_file(fits, path):
    origins = _origins(lambda: PATHS[path](fits))
    assert origins, f"{path}: no ExtrapolationWarning 2 decades beyond the data"
    assert {f for f, _ in origins} == {__file__}, origins  # never a line inside scalefit


def test_inside_the_data_nothing_is_said(fits):
    assert _origins(lambda: fits["one"].predict({"N": [1e8], "D": [1e9]})) == []
    assert _origins(lambda: fits["grouped"]["a"].predict({"N": [1e8], "D": [1e9]})) == []


def test_a_curve_law_scaled_to_a_larger_model_warns_at_the_callers_line():
    from scalefit.planning.curve_scaling import CurveScaling

    values = {"L0": 2.0, "A": 0.5, "alpha": 0.45, "C": 0.25}
    scaling = CurveScaling(sizes=(1e7, 3e7), per_size={}, lam=0.999,
                           relations={p: {"form": "a*N^b", "a": v, "b": 0.0} for p, v in values.items()})
    lr = np.concatenate([np.linspace(1e-4, 1e-3, 5), np.full(45, 1e-3)])
    for call in (lambda: scaling.params_at(1e9), lambda: scaling.predict_curve(1e9, lr)):
        origins = _origins(call)
        assert origins and {f for f, _ in origins} == {__file__}, origins
    assert _origins(lambda: scaling.params_at(2e7)) == []
