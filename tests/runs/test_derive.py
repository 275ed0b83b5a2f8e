"""Derived target columns: 1 - mean of accuracy columns (``--target-mean``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import RunDataError
from scalefit.runs import RunTable, ensure_derived_columns, read_runs, resolve, with_mean_column


def _table():
    return RunTable.from_frame(pd.DataFrame({
        "loss": [3.0, 3.5, 4.0], "acc_a": [0.5, 0.4, 0.3], "acc_b": [0.7, 0.6, 0.5], "other": [1, 2, 3],
    }), "runs.csv")


def test_mean_error_of_matching_columns_leaves_input_untouched():
    table = _table()
    before = table.frame.copy()
    out, name = with_mean_column(table, "acc_*")
    assert name == "1-mean(acc_*)"
    np.testing.assert_allclose(out.frame[name], [0.4, 0.5, 0.6])
    pd.testing.assert_frame_equal(table.frame, before)
    assert name not in table.columns
    res = resolve(out, ["L", "Err"], mapping={"Err": name})
    assert res.provenance["Err"] == "column '1-mean(acc_*)'"


def test_several_globs_and_plain_mean():
    out, name = with_mean_column(_table(), "acc_a, other", as_error=False)
    assert name == "mean(acc_a, other)"
    with pytest.raises(RunDataError, match="not a fraction"):
        with_mean_column(_table(), "acc_a, other")
    np.testing.assert_allclose(out.frame[name], [0.75, 1.2, 1.65])


def test_ensure_derived_columns_rebuilds_by_name():
    table = _table()
    out = ensure_derived_columns(table, ["loss", "1-mean(acc_*)"])
    np.testing.assert_allclose(out.frame["1-mean(acc_*)"], [0.4, 0.5, 0.6])
    assert ensure_derived_columns(table, ["loss"]) is table


def test_errors_name_the_problem():
    with pytest.raises(RunDataError, match="matches no column; columns with similar names: .*acc_a"):
        with_mean_column(_table(), "accuracy_*")
    frame = _table().frame.copy()
    frame["acc_b"] = frame["acc_b"].astype(object)
    frame.loc[1, "acc_b"] = "n/a"
    with pytest.raises(RunDataError, match=r"runs.csv:3:acc_b: missing or non-numeric value 'n/a'"):
        with_mean_column(RunTable.from_frame(frame, "runs.csv"), "acc_*")
    with pytest.raises(RunDataError, match="give a column glob"):
        with_mean_column(_table(), " , ")


def test_matches_gadre_46_task_average():
    from tests.conftest import shared_file

    table = read_runs(shared_file("gadre/runs_flat.csv"))
    out, name = with_mean_column(table, "acc_*")
    np.testing.assert_allclose(out.frame[name], table.frame["err_avg46"], atol=1e-12)
