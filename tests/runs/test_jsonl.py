"""JSON-lines run logs (issue 14 item 7): read natively, as data, with file:line[:field] errors; Parquet's nested
cells refused the same way."""

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
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from scalefit.runs import read_runs
from scalefit.runs.jsonl import MAX_LINE_CHARS


def _write(tmp_path, text: str, name: str = "runs.jsonl"):
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


def test_a_jsonl_log_fits_like_the_same_csv(tmp_path):
    frame = simulate(get_law("chinchilla"), {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
                     n_points=40, seed=2)
    csv = tmp_path / "runs.csv"
    frame.to_csv(csv, index=False)
    jsonl = _write(tmp_path, "".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")), "runs.ndjson")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = fit_law("chinchilla", csv, calibrate=False)
        b = fit_law("chinchilla", jsonl, calibrate=False)
    assert a.params == b.params
    assert b.data["source"] == str(jsonl)


def test_backtest_rows_are_the_file_lines_of_csv_and_jsonl(tmp_path):
    from scalefit.fitting import backtest

    frame = simulate(get_law("chinchilla"), {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28},
                     n_points=30, seed=3)
    csv = tmp_path / "runs.csv"
    frame.to_csv(csv, index=False)
    jsonl = _write(tmp_path, "".join(json.dumps(r) + "\n" for r in frame.to_dict(orient="records")))
    big = int(np.argmax(frame["n_params"].to_numpy()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for path, header in ((csv, 1), (jsonl, 0)):
            rows = backtest("chinchilla", path, holdout=f"N >= {frame['n_params'].max()}", interval=None).rows
            line = int(rows["row"].iloc[0])  # the 1-based file line of the held-out run
            assert line == big + 1 + header
            text = path.read_text().splitlines()[line - 1]
            value = (json.loads(text)["n_params"] if header == 0
                     else float(text.split(",")[list(frame).index("n_params")]))
            assert value == pytest.approx(frame["n_params"].iloc[big])


def test_sparse_keys_null_bom_and_crlf(tmp_path):
    path = _write(tmp_path, '\ufeff{"run_id": "a", "step": 1, "loss": 3.2}\r\n'
                            '{"run_id": "a", "step": 2, "loss": null, "acc": 0.4}\r\n\n\n')
    t = read_runs(path)
    assert t.columns == ["run_id", "step", "loss", "acc"]
    assert np.isnan(t.frame.loc[1, "loss"]) and np.isnan(t.frame.loc[0, "acc"])
    assert t.location(1, "loss") == f"{path}:2:loss"  # no header line: data row k is on line k + 1


def test_nan_and_infinity_literals_are_floats_refused_as_law_inputs(tmp_path):
    path = _write(tmp_path, '{"N": 1e8, "D": 1e9, "loss": 3.0}\n{"N": Infinity, "D": 2e9, "loss": NaN}\n'
                            '{"N": 4e8, "D": 4e9, "loss": 2.5}\n')
    t = read_runs(path)
    assert np.isinf(t.frame.loc[1, "N"]) and np.isnan(t.frame.loc[1, "loss"])
    with pytest.raises(RunDataError, match=rf"{path}:2:"):
        fit_law("chinchilla", t, calibrate=False)


@pytest.mark.parametrize("text, message", [
    ('{"a": 1}\n[1, 2]\n', ":2: not a JSON object (a list)"),
    ('{"a": 1}\n"text"\n', ":2: not a JSON object (a str)"),
    ('{"a": 1}\n{"a": {"b": 1}}\n', ":2:a: a nested object"),
    ('{"a": [1, 2]}\n', ":1:a: a nested list"),
    ('{"a": 1, "a": 2}\n', ":1:a: key given twice"),
    ('{"a": 1, " a ": 2}\n', ":1:a: key given twice"),
    ('{"": 1}\n', ":1: an empty key"),
    ('{"a": 1}\n{"a": "x"}\n', ":2:a: a string ('x') where line 1 has a number"),
    ('{"a": true}\n{"a": 1}\n', ":2:a: a number (1) where line 1 has true/false"),
    ('{"a": 1}\n\n{"a": 2}\n', ":2: blank line"),
    ('{"a": 1}\n{"a": \n', ":2: not valid JSON"),
    ('{"a": 1}\n{"a": 1} x\n', ":2: not valid JSON (Extra data"),
    ("[" * 100_000 + "]" * 100_000 + "\n", ":1: nested too deeply"),
    ('{"a": ' + "9" * 5000 + "}\n", ":1: not a readable JSON value"),
])
def test_malformed_lines_are_one_line_errors(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(RunDataError) as err:
        read_runs(path)
    assert str(err.value).startswith(f"{path}{message}"), str(err.value)
    assert "\n" not in str(err.value)


def test_huge_line_refused_before_parsing(tmp_path):
    path = _write(tmp_path, '{"a": "' + "x" * MAX_LINE_CHARS + '"}\n')
    with pytest.raises(RunDataError, match=r":1: a line of 1,048,585 characters"):
        read_runs(path)


@pytest.mark.parametrize("data, message", [
    (b"", "the file is empty"),
    (b"\n  \n", "the file is empty"),
    (b'{"a": 1}\x00\n', "binary file"),
    (b'{"a": "\xe9"}\n', ":1: not UTF-8 text"),
])
def test_text_checks_as_for_csv(tmp_path, data, message):
    path = tmp_path / "runs.jsonl"
    path.write_bytes(data)
    with pytest.raises(RunDataError, match=message):
        read_runs(path)


def test_cli_reads_jsonl_and_reports_the_line(tmp_path):
    path = _write(tmp_path, '{"N": 1e8, "D": 1e9, "loss": 3.0}\n{"N": 2e8, "D": 2e9, "loss": {"x": 1}}\n')
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(path)])
    assert res.exit_code == 1 and f"{path}:2:loss: a nested object" in res.output
    assert "Traceback" not in res.output


def test_parquet_nested_cells_are_refused(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "runs.parquet"
    pd.DataFrame({"N": [1e8, 2e8], "loss": [3.0, 2.9], "meta": [{"a": 1}, {"a": 2}]}).to_parquet(path)
    with pytest.raises(RunDataError, match=r"runs.parquet:2:meta: a nested value"):
        read_runs(path)
    flat = tmp_path / "flat.parquet"
    pd.DataFrame({"N": [1e8, 2e8], "loss": [3.0, 2.9], "run": ["a", "b"]}).to_parquet(flat)
    assert read_runs(flat).columns == ["N", "loss", "run"]
