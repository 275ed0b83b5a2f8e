"""Reading and validating run logs: every documented bad input gets a RunDataError naming where."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from scalefit.errors import RunDataError
from scalefit.runs import RunTable, filter_rows, parse_map, read_runs, resolve


def write(tmp_path, text, name="runs.csv"):
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_file(tmp_path):
    with pytest.raises(RunDataError, match="not found"):
        read_runs(tmp_path / "nope.csv")


def test_empty_file(tmp_path):
    with pytest.raises(RunDataError, match="empty"):
        read_runs(write(tmp_path, ""))


def test_header_only(tmp_path):
    with pytest.raises(RunDataError, match="no rows"):
        read_runs(write(tmp_path, "N,D,loss\n"))


def test_duplicate_columns(tmp_path):
    with pytest.raises(RunDataError, match=r"runs.csv:1: duplicate column names \['N'\]"):
        read_runs(write(tmp_path, "N,D,N,loss\n1,2,3,4\n"))


def test_missing_columns_lists_all(tmp_path):
    t = read_runs(write(tmp_path, "foo,bar\n1,2\n"))
    with pytest.raises(RunDataError) as e:
        resolve(t, ["N", "D", "L"])
    msg = str(e.value)
    assert "missing columns for N, D, L" in msg and "--map" in msg and "foo" in msg


def test_non_numeric_cell_names_file_row_column(tmp_path):
    t = read_runs(write(tmp_path, "N,D,loss\n1e8,1e9,3.1\n2e8,abc,3.0\n"))
    with pytest.raises(RunDataError, match=r"runs.csv:3:D: non-numeric value 'abc' for D"):
        resolve(t, ["N", "D", "L"])


@pytest.mark.parametrize("cell,what", [("nan", "missing"), ("inf", "infinite"), ("", "missing")])
def test_nan_inf(tmp_path, cell, what):
    t = read_runs(write(tmp_path, f"N,D,loss\n1e8,1e9,3.1\n2e8,2e9,{cell}\n"))
    with pytest.raises(RunDataError, match=rf"runs.csv:3:loss: {what}"):
        resolve(t, ["N", "D", "L"])


@pytest.mark.parametrize("value", ["0", "-5e8"])
def test_non_positive_sizes(tmp_path, value):
    t = read_runs(write(tmp_path, f"N,D,loss\n1e8,1e9,3.1\n{value},2e9,3.0\n"))
    with pytest.raises(RunDataError, match=r"runs.csv:3:N: N must be > 0"):
        resolve(t, ["N", "D", "L"])


def test_aliases_and_derivation_provenance(tmp_path):
    t = read_runs(write(tmp_path, "Model Size,Training FLOP,loss\n1e8,6e17,3.1\n2e8,2.4e18,3.0\n"))
    r = resolve(t, ["N", "D", "L", "M"])
    assert r.provenance == {
        "N": "column 'Model Size'", "D": "derived C/(6N)", "L": "column 'loss'", "M": "derived D/N",
    }
    np.testing.assert_allclose(r.values["D"], [1e9, 2e9])
    np.testing.assert_allclose(r.values["M"], [10, 10])


def test_map_overrides_and_bad_map(tmp_path):
    t = read_runs(write(tmp_path, "size,toks,loss,eval\n1e8,1e9,3.1,3.3\n"))
    r = resolve(t, ["N", "D", "L"], mapping=parse_map(["N=size", "D=toks", "L=eval"]))
    assert r.values["L"][0] == 3.3 and r.provenance["N"] == "column 'size'"
    with pytest.raises(RunDataError, match="no column 'nope'"):
        resolve(t, ["N"], mapping={"N": "nope"})
    with pytest.raises(RunDataError, match="SYMBOL=COLUMN"):
        parse_map(["N"])


def test_where_uses_symbols_columns_and_strings(tmp_path):
    t = read_runs(write(tmp_path, "params,flops,loss,dataset\n1e8,6e17,3.1,c4\n2e9,6e19,2.5,rpj\n3e9,6e19,2.4,c4\n"))
    assert len(filter_rows(t, "N >= 1e9 and loss < 3")) == 2
    kept = filter_rows(t, "dataset == 'c4' and D > 1e9")
    assert list(kept.frame.index) == [2]
    assert kept.location(2) == f"{t.source}:4"  # original row numbers survive filtering


def test_where_errors(tmp_path):
    t = read_runs(write(tmp_path, "N,D,loss\n1e8,1e9,3.1\n"))
    with pytest.raises(RunDataError, match="leaves no rows"):
        filter_rows(t, "N > 1e12")
    with pytest.raises(RunDataError, match="--where .*no column or symbol .unknown_col."):
        filter_rows(t, "unknown_col > 3")
    with pytest.raises(RunDataError, match="true/false"):
        filter_rows(t, "N + 1")


def test_tsv_and_parquet(tmp_path):
    p = write(tmp_path, "N\tD\tloss\n1e8\t1e9\t3.1\n", "runs.tsv")
    assert read_runs(p).frame.shape == (1, 3)
    pytest.importorskip("pyarrow")
    pq = tmp_path / "runs.parquet"
    pd.DataFrame({"N": [1e8], "D": [1e9], "loss": [3.1]}).to_parquet(pq)
    assert resolve(read_runs(pq), ["N", "D", "L"]).values["L"][0] == 3.1


def test_directory_is_an_error(tmp_path):
    with pytest.raises(RunDataError, match="is a directory"):
        read_runs(tmp_path)


def test_input_file_never_modified(tmp_path):
    p = write(tmp_path, "Model Size,Training FLOP,loss\n1e8,6e17,3.1\n2e8,2.4e18,3.0\n")
    before = hashlib.sha256(p.read_bytes()).hexdigest()
    t = read_runs(p)
    resolve(t, ["N", "D", "L", "C", "M"])
    filter_rows(t, "N > 1.5e8")
    assert hashlib.sha256(p.read_bytes()).hexdigest() == before
    assert list(t.frame.columns) == ["Model Size", "Training FLOP", "loss"]


def test_from_frame_copies():
    df = pd.DataFrame({"N": [1.0, 2.0]})
    t = RunTable.from_frame(df)
    t.frame.loc[0, "N"] = 99
    assert df.loc[0, "N"] == 1.0
