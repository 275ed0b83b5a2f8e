"""Result-file mutations (one field replaced, deleted or added; NaN, infinities, wrong types, out-of-range values)
loaded by the library and by predict, plan, plot and sweep-status (issue 28): each keeps the contract of
:mod:`tests.fuzz.harness`; the library raises only ScalefitErrors (a FitFileError naming the file) or loads a
result whose predictions are finite."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from scalefit.errors import ScalefitError
from scalefit.fitting.fit_set import FitSet
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.fuzz.conftest import budget
from tests.fuzz.harness import check_cli, sandbox
from tests.fuzz.strategies import SPECIAL

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
KINDS = ("fit.json", "grouped.json", "frontier.json")


@pytest.fixture(scope="module")
def originals(tmp_path_factory):
    """name -> parsed JSON of a calibrated bootstrapped fit, a grouped fit and an IsoFLOP frontier."""
    import scalefit

    frame = simulate(get_law("chinchilla"), TRUE, n_points=24, noise=0.01, seed=3)
    frame["dataset"] = ["c4", "rpj"] * 12
    results = {"fit.json": scalefit.fit("chinchilla", frame, bootstrap=4, seed=1),
               "grouped.json": scalefit.fit("chinchilla", frame, group_by="dataset", calibrate=False),
               "frontier.json": scalefit.fit("isoflop", frame)}
    return {name: json.loads(r.to_json()) for name, r in results.items()}


def leaf_paths(obj, prefix=()) -> list[tuple]:
    """Every path to a value in a JSON object (containers included)."""
    out = [prefix] if prefix else []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += leaf_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out += leaf_paths(v, (*prefix, i))
    return out


replacement = st.one_of(
    st.sampled_from(SPECIAL), st.floats(), st.integers(-10**30, 10**30), st.sampled_from(
        ["evil", "", "NaN", "log", "raw", "mean", "1e9", "N > 1", "__import__('os')", "\x1b[2J"]),
    st.none(), st.booleans(), st.just([]), st.just({}), st.just([1.0, 2.0]), st.just([math.nan, 1.0]),
    st.just({"a": 1}), st.just("x" * 200), st.just([[1.0]]))


@st.composite
def mutated(draw, originals) -> tuple[str, str]:
    """(file name, JSON text) of a result file with one field replaced, deleted or added."""
    name = draw(st.sampled_from(KINDS))
    obj = json.loads(json.dumps(originals[name]))
    path = draw(st.sampled_from(leaf_paths(obj)))
    node = obj
    for key in path[:-1]:
        node = node[key]
    action = draw(st.sampled_from(["replace", "replace", "replace", "delete", "add"]))
    if action == "delete" and isinstance(node, dict):
        del node[path[-1]]
        value = None
    elif action == "add" and isinstance(node, dict):
        path = (*path[:-1], draw(st.sampled_from(["extra", "__class__", "E", "noise"])))
        node[path[-1]] = value = draw(replacement)
    else:
        node[path[-1]] = value = draw(replacement)
    note(f"mutation of {name}: {action} {'.'.join(map(str, path))} = {value!r}")
    return name, json.dumps(obj, allow_nan=True)


COMMANDS = {
    "fit.json": [["predict", "R", "--at", "N=1e9", "--at", "D=2e10", "--json"],
                 ["predict", "R", "--at", "N=1e9,1e12", "--at", "D=2e10", "--interval", "mean", "--json"],
                 ["plan", "R", "--compute", "1e22", "--json"]],
    "grouped.json": [["predict", "R", "--at", "N=1e9", "--at", "D=2e10", "--json"],
                     ["plan", "R", "--compute", "1e22", "--group", "c4", "--json"]],
    "frontier.json": [["predict", "R", "--at", "C=1e22", "--json"], ["plan", "R", "--compute", "1e22", "--json"]],
}


@given(data=st.data())
@budget(1.0)
def test_mutated_result_files_in_predict_and_plan(originals, data):
    name, text = data.draw(mutated(originals))
    args = data.draw(st.sampled_from(COMMANDS[name]))
    with sandbox() as (root, work):
        (work / name).write_text(text)
        check_cli([name if a == "R" else a for a in args], work, root)


@given(data=st.data())
@budget(0.15)
def test_mutated_result_files_in_plot(originals, data):
    name, text = data.draw(mutated(originals))
    with sandbox() as (root, work):
        (work / name).write_text(text)
        check_cli(["plot", name, "--out", "p.png"], work, root, outputs=("p.png",), finite_stdout=False)


@given(data=st.data())
@budget(1.0)
def test_mutated_result_files_in_the_library(originals, data):
    import scalefit

    name, text = data.draw(mutated(originals))
    with sandbox() as (_, work):
        (work / name).write_text(text)
        try:
            result = scalefit.load(work / name)
        except ScalefitError as exc:
            assert name in str(exc), str(exc)
            return
        if name == "frontier.json":
            return
        fit = next(iter(result.values())) if isinstance(result, FitSet) else result
        with np.errstate(all="raise"):
            pred = fit.predict({"N": 1e9, "D": 2e10})
        assert np.isfinite(pred).all(), pred


@st.composite
def sweep_folders(draw) -> dict[str, str]:
    """Files of a sweep folder: a manifest and up to three runs' result.json, each maybe tampered."""
    runs = [f"r{i}" for i in range(draw(st.integers(0, 3)))]
    manifest = {"name": "fz", "source": "spec.toml", "runs": [{"run_id": r} for r in runs]}
    files = {}
    for r in runs:
        row = {"run_id": r, "status": "ok", "loss": 3.1, "n_params": 1000, "n_tokens": 20000, "wall_s": 1.5,
               "message": ""}
        if draw(st.booleans()):
            key = draw(st.sampled_from([*row, "flops"]))
            row[key] = draw(replacement)
        if draw(st.integers(0, 5)):
            files[f"{r}/result.json"] = json.dumps(row, allow_nan=True)
    if draw(st.integers(0, 4)) == 0:
        key = draw(st.sampled_from(["name", "source", "runs"]))
        manifest[key] = draw(replacement)
    files["sweep.json"] = json.dumps(manifest, allow_nan=True)
    return files


@given(files=sweep_folders(), as_json=st.booleans())
@budget(1.0)
def test_tampered_sweep_folders_in_sweep_status(files, as_json):
    with sandbox() as (root, work):
        for rel, text in files.items():
            (work / "sw" / rel).parent.mkdir(parents=True, exist_ok=True)
            (work / "sw" / rel).write_text(text)
        check_cli(["sweep-status", "sw"] + (["--json"] if as_json else []), work, root, finite_stdout=False)
