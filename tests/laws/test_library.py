"""The issue-13 law library as a whole: every family is registered, builds with its defaults, is listed by
`scalefit laws`, and fits from run-log columns found through the symbol aliases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.laws import get_law, list_laws

LIBRARY = ("data-constrained", "moe", "vocab", "parscale", "bnsl", "alabdulmohsin-m1", "alabdulmohsin-m2",
           "alabdulmohsin-m3", "alabdulmohsin-m4", "rectified", "data-mixture")


def test_every_family_is_registered_and_listed():
    assert set(LIBRARY) <= set(list_laws())
    listed = json.loads(CliRunner().invoke(app, ["laws", "--json"]).output)
    by_name = {entry["name"]: entry for entry in listed}
    for name in LIBRARY:
        law = get_law(name)
        assert by_name[name]["equation"] == law.equation and by_name[name]["inputs"] == list(law.inputs)


@pytest.mark.parametrize("law, columns, true", [
    ("moe", {"n_params": (1e7, 1e10), "num_experts": (1.0, 256.0)}, {"a": -0.08, "b": -0.11, "c": 0.004, "d": 2.6}),
    ("parscale", {"n_params": (1e8, 1e10), "parallel_size": (1.0, 8.0)},
     {"A": 9.8e6, "k": 0.39, "alpha": 0.15, "E": 0.8}),
    ("vocab", {"non_vocab_parameters": (1e7, 1e10), "vocab_parameters": (1e6, 1e9), "n_tokens": (1e9, 1e11)},
     {"E": 5.5, "A1": 875.0, "alpha1": 0.45, "A2": 1e4, "alpha2": 0.67, "B": 2.2e4, "beta": 0.45}),
])
def test_symbols_resolve_from_run_log_columns(law, columns, true):
    spec = get_law(law)
    rng = np.random.default_rng(0)
    cols = {c: np.exp(rng.uniform(np.log(lo), np.log(hi), 60)) for c, (lo, hi) in columns.items()}
    x = dict(zip(spec.inputs, cols.values()))
    runs = pd.DataFrame({**cols, "loss": spec(x, true)})
    fit = scalefit.fit(law, runs)
    assert [fit.data["provenance"][s] for s in spec.inputs] == [f"column '{c}'" for c in columns]
    np.testing.assert_allclose(fit.predict(cols), runs["loss"], rtol=1e-6)
