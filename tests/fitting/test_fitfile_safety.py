"""Result files are data: every malformed, non-finite, incomplete or hostile file is one FitFileError.

Each case edits a valid file the way a damaged or hand-written one could look, and checks that loading
it raises FitFileError whose one-line message names the file and the field.
"""

from __future__ import annotations

import json
import math

import pytest

import scalefit._schema as schema
from scalefit._schema import nesting_depth, read_json
from scalefit.errors import FitFileError
from scalefit.fitting import FitResult, fit
from scalefit.fitting.lr_transfer_result import LRTransferResult
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from scalefit.planning.frontier import FrontierResult
from tests.safety import edited

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
HOSTILE_WHERE = "@pd.io.common.os.system('touch pwned') == 0"


@pytest.fixture(scope="module")
def good() -> dict:
    runs = simulate(get_law("chinchilla"), TRUE, n_points=40, noise=0.005, seed=3)
    return fit("chinchilla", runs, bootstrap=8, seed=0, where="N > 1").to_dict()


def _load_error(tmp_path, obj, loader=FitResult.load) -> str:
    path = tmp_path / "fit.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    with pytest.raises(FitFileError) as info:
        loader(path)
    text = str(info.value)
    assert text.startswith(str(path)) and "\n" not in text
    return text


FIT_CASES = [
    ("law", {"x": 1}, "law: expected a string"),
    ("law", "no-such-law", "unknown law 'no-such-law'"),
    ("law_options", [1], "law_options: expected an object"),
    ("law_options", {"nope": 1}, "does not take options"),
    ("params", None, "params: expected an object, got null"),
    ("params", [1, 2], "params: expected an object"),
    ("params.alpha", "0.3", "params.alpha: expected a number, got '0.3' (a string)"),
    ("params.alpha", True, "params.alpha: expected a number, got true"),
    ("params.E", float("nan"), "params.E: expected a finite number, got nan"),
    ("params.B", float("inf"), "params.B: expected a finite number, got inf"),
    ("params.B", 10**400, "params.B: expected a finite number, got 1000000000"),
    ("params.A", 1e308 * 10, "params.A: expected a finite number, got inf"),
    ("params.beta", ..., "params: missing parameter 'beta'"),
    ("params.gamma", 1.0, "params: unknown parameter 'gamma'"),
    ("bootstrap", [[1, 2]], "bootstrap: expected an object"),
    ("bootstrap", {"E": 1}, "missing bootstrap samples of 'A'"),
    ("bootstrap.E", 1.0, "bootstrap.E: expected a list"),
    ("bootstrap.E", ["x"] * 8, "bootstrap.E[0]: expected a number"),
    ("bootstrap.E", [1.0, 2.0], "same non-zero number of bootstrap samples"),
    ("bootstrap.alpha", [[0.3]] * 8, "bootstrap.alpha[0]: expected a number, got a list"),
    ("groups", [1, 2], "groups: expected an object"),
    ("groups", {"a": 5}, "group_by: expected a string"),
    ("seed", "0", "seed: expected a whole number"),
    ("stats.n", "forty", "stats.n: expected a whole number"),
    ("search.warnings", "none", "search.warnings: expected a list"),
    ("data.ranges.N", [1.0], "data.ranges.N: expected 2 numbers"),
    ("data.mapping", {"N": 3}, "data.mapping.N: expected a string"),
    ("data.where", 5, "data.where: expected a string"),
    ("data.where", HOSTILE_WHERE, "data.where: unsafe filter"),
    ("data.where", "__import__('os').system('touch pwned')", "data.where"),
    ("identifiability", [{"check": "x"}], "identifiability[0]: missing field 'params'"),
    ("surprise", 1, "unknown field 'surprise'"),
    ("schema", "scalefit.fit/0", "not a scalefit fit"),
]


@pytest.mark.parametrize(("path", "value", "message"), FIT_CASES, ids=[f"{p}={v!r}"[:40] for p, v, _ in FIT_CASES])
def test_malformed_fit_field_is_one_line_naming_it(good, tmp_path, monkeypatch, path, value, message):
    monkeypatch.chdir(tmp_path)
    text = _load_error(tmp_path, edited(good, path, value))
    assert message in text
    assert not (tmp_path / "pwned").exists()


def test_group_field_errors_name_the_group(good, tmp_path):
    grouped = {**good, "params": {}, "stats": {}, "search": {}, "bootstrap": None, "group_by": "size",
               "groups": {"small": edited(good, "params.alpha", "x")}}
    assert "groups.small.params.alpha: expected a number" in _load_error(tmp_path, grouped)


def test_hostile_expr_formula_is_refused_when_the_law_is_rebuilt(good, tmp_path):
    hostile = {**good, "law": "expr", "law_options": {"formula": "__import__('os').system('x') + a*N",
                                                      "params": ["a=1:0:10"], "target": "L"},
               "params": {"a": 1.0}, "bootstrap": None}
    assert "law: cannot rebuild law 'expr'" in _load_error(tmp_path, hostile)


FILE_CASES = [
    (b"", "the fit file is empty"),
    (b"   \n", "the fit file is empty"),
    (b"hello", "not valid JSON"),
    (b"{", "not valid JSON"),
    (b"\x00\xff\xfe\x89PNG\r\n", "not UTF-8 text"),
    (b"[" * 100_000 + b"]" * 100_000, "nested more than 64 levels"),
    (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, "nested more than 64 levels"),
    (b"[" * 200 + b"]" * 200, "nested more than 64 levels"),
    (b"[1, 2]", "expected a JSON object holding a scalefit fit, got a list of 2 items"),
    (b'"fit"', "expected a JSON object"),
    (b"null", "expected a JSON object"),
    (b'{"schema": "scalefit.fit/1", "law": ' + b"1" * 5000 + b"}", "cannot read the JSON"),
    (b'{"schema": "scalefit.fit/1", "law": NaN, "law": Infinity}', "the file: missing field 'law_options'"),
]


@pytest.mark.parametrize(("raw", "message"), FILE_CASES, ids=[m[:20] + str(len(r)) for r, m in FILE_CASES])
def test_unreadable_file_is_one_line(tmp_path, raw, message):
    path = tmp_path / "fit.json"
    path.write_bytes(raw)
    with pytest.raises(FitFileError) as info:
        FitResult.load(path)
    assert message in str(info.value) and str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_folder_and_oversized_files(tmp_path, monkeypatch):
    with pytest.raises(FitFileError, match="fit file not found; create one with"):
        FitResult.load(tmp_path / "none.json")
    with pytest.raises(FitFileError, match="not a regular file"):
        FitResult.load(tmp_path)
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"pad": "x" * 2000}))
    monkeypatch.setattr(schema, "MAX_BYTES", 1000)
    with pytest.raises(FitFileError, match="larger than a fit file can be"):
        FitResult.load(big)


def test_nesting_depth_is_counted_without_recursion():
    deep: list = []
    node = deep
    for _ in range(10_000):
        node.append([])
        node = node[0]
    assert nesting_depth(deep) > 64 and nesting_depth({"a": [1, {"b": 2}]}) == 3 and nesting_depth(1.5) == 0


def test_valid_file_round_trips_and_older_files_without_findings_load(good, tmp_path):
    res = FitResult.from_dict(good)
    again = FitResult.load(res.save(tmp_path / "fit.json"))
    assert again == res and again.data["where"] == "N > 1"
    older = edited(good, "identifiability", ...)
    assert FitResult.from_dict(older).identifiability == []
    minimal = {"schema": "scalefit.fit/1", "law": "chinchilla", "law_options": {}, "params": TRUE,
               "stats": {}, "search": {}, "data": {}}
    assert math.isfinite(float(FitResult.from_dict(minimal).predict({"N": 1e9, "D": 2e10})[0]))
    assert read_json(tmp_path / "fit.json")["schema"] == "scalefit.fit/1"


# ---- the other result types -------------------------------------------------------------------------------
def _frontier_dict() -> dict:
    return {"schema": "scalefit.envelope/1", "method": "envelope",
            "points": [{"C": 1e18, "N_opt": 1e7, "D_opt": 1.6e10, "L_opt": 3.0, "n_covering": 3}],
            "a": 0.5, "k_N": 0.1, "b": 0.5, "k_D": 1.6, "data": {"source": "x.csv", "n_rows": 9},
            "level": 0.95, "intervals": {"a": [0.4, 0.6]}, "bootstrap": None, "notes": [], "seed": None}


FRONTIER_CASES = [
    ("a", float("nan"), "a: expected a finite number"),
    ("k_N", "1", "k_N: expected a number"),
    ("points", {"C": 1}, "points: expected a list"),
    ("points", [{"C": 1e18}], "points[0]: missing field"),
    ("bootstrap", {"a": [1.0], "b": [1.0], "k_N": [1.0]}, "bootstrap: missing field 'k_D'"),
    ("bootstrap", {"a": [1.0], "b": [1.0, 2.0], "k_N": [1.0], "k_D": [1.0]}, "same non-zero number"),
    ("method", "isoflop", "does not match the schema"),
    ("data", {"where": HOSTILE_WHERE}, "data.where: unsafe filter"),
    ("intervals", {"a": [1, 2, 3]}, "intervals.a: expected 2 numbers"),
]


@pytest.mark.parametrize(("path", "value", "message"), FRONTIER_CASES, ids=[c[0] for c in FRONTIER_CASES])
def test_malformed_frontier_file(tmp_path, path, value, message):
    assert FrontierResult.from_dict(_frontier_dict()).a == 0.5
    assert message in _load_error(tmp_path, edited(_frontier_dict(), path, value), FrontierResult.load)


def _lr_transfer_dict() -> dict:
    width = {"width": 64.0, "lr_opt": 1e-3, "how": "argmin", "lr_argmin": 1e-3, "best_loss": 2.0,
             "sensitivity": 0.1, "n_lrs": 5, "n_failed": 0, "n_seeds": 1}
    return {"schema": "scalefit.lr-transfer/1", "params": {"sp": {"widths": [width], "mean_sensitivity": 0.1,
                                                                   "note": "one width only: no slope"}},
            "curves": [{"param": "sp", "width": 64.0, "lr": 1e-3, "loss": 2.0, "n_failed": 0}],
            "columns": {"loss": "column 'loss'", "lr": "column 'lr'", "width": "column 'width'",
                        "parametrization": "column 'parametrization'", "initial_loss": "ln 256",
                        "n_excluded": 0, "n_failed": 0},
            "options": {"half_window": 2, "bootstrap": 0, "seed": 0, "level": 0.95, "target_width": None,
                        "where": None},
            "source": "runs.csv"}


LR_CASES = [
    ("params.sp.widths", None, "params.sp.widths: expected a list"),
    ("params.sp.mean_sensitivity", "high", "params.sp.mean_sensitivity: expected a number"),
    ("params.sp.slope_interval", [1], "params.sp.slope_interval: expected 2 numbers"),
    ("curves", [5], "curves[0]: expected an object"),
    ("options.where", HOSTILE_WHERE, "options.where: unsafe filter"),
    ("source", 3, "source: expected a string"),
]


@pytest.mark.parametrize(("path", "value", "message"), LR_CASES, ids=[c[0] for c in LR_CASES])
def test_malformed_lr_transfer_file(tmp_path, path, value, message):
    assert "== sp ==" in LRTransferResult.from_dict(_lr_transfer_dict()).report()
    assert message in _load_error(tmp_path, edited(_lr_transfer_dict(), path, value), LRTransferResult.load)


def _law_fit(law: str, target: str, params: dict) -> dict:
    return {"schema": "scalefit.fit/1", "law": law, "law_options": {"target": target}, "params": params,
            "stats": {}, "search": {}, "data": {}}


def test_malformed_hparams_file(good, tmp_path):
    from scalefit.planning.hparams import HparamFit

    options = {"tol": 0.0025, "fit_on": "band", "seq_len": None, "refine_tol": 0.01, "surface": False,
               "surface_tol": 0.02, "loo": False, "bootstrap": 0, "seed": 0, "where": None, "mapping": {}}
    data = {"source": "runs.csv", "n_rows": 40, "n_fitted": 40, "hash": "0", "provenance": {"batch_unit": "tokens"}}
    fits = {"lr": _law_fit("hparam-steplaw", "lr", {"c_eta": 77.7, "alpha": -0.77, "beta": 0.2}),
            "B": _law_fit("hparam-steplaw", "B", {"c_B": 0.2, "gamma": 0.6}),
            "lr_C": _law_fit("hparam-compute", "lr", {"c_eta": 1.0, "a": -0.1}),
            "B_C": _law_fit("hparam-compute", "B", {"c_B": 0.2, "b": 0.3})}
    base = {"schema": "scalefit.hparams/1", "cells": [], "fits": fits, "options": options, "data": data, "check": []}
    assert HparamFit.from_dict(base).recommend(1e9, 2e10)["lr"]["value"] > 0

    def error(path, value):
        return _load_error(tmp_path, edited(base, path, value), HparamFit.load)

    assert "fits.lr: expected a 'hparam-steplaw' fit, got a 'chinchilla' fit" in error("fits.lr", good)
    assert "fits.lr: missing field" in error("fits.lr", {"schema": "scalefit.fit/1"})
    assert "fits.B.params.gamma: expected a finite number" in error("fits.B.params.gamma", float("nan"))
    assert "options.where: unsafe filter" in error("options.where", HOSTILE_WHERE)
    assert "fits: missing field 'B_C'" in error("fits.B_C", ...)
    assert "options.seq_len: expected a number" in error("options.seq_len", [1])
    assert "cells[0]: missing field" in error("cells", [{"N": 1.0}])
