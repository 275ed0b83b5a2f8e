"""Adversarial row filters: --where and --holdout are data, never code (issue: safety and data integrity).

Each injection below ran code or wrote files under the old pandas ``eval(engine="python")`` filter. Every
one must be refused in one line, with no marker file, no new file and the run log byte-identical.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import RunDataError, UnsafeFilterError
from scalefit.expressions import check_filter, evaluate_filter
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from scalefit.runs import RunTable, filter_rows
from tests.safety import refused

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}

INJECTIONS = [
    ("@pd.io.common.os.system('touch pwned') == 0", "`@`"),
    ("loss.to_csv('pwned') == None", "attribute access"),
    ("__import__('os').system('touch pwned') == 0", "attribute access"),
    ("__import__('os') == 0", "a call to __import__"),
    ("__builtins__ == 0", "dunder"),
    ("open('pwned', 'w') == 1", "a call to open"),
    ("N.__class__.__mro__ == 1", "attribute access"),
    ("[x for x in ().__class__.__base__.__subclasses__()] == 1", "comprehension"),
    ("(lambda: 1)() == 1", "lambda"),
    ("loss.pipe(print) == 1", "attribute access"),
    ("N > 1e8 and exec('open(\"pwned\", \"w\")') == None", "a call to exec"),
    ("globals()['os'] == 1", "subscript"),
    ("globals() == 1", "a call to globals"),
    ("f'{N}' == 'x'", "f-string"),
    ("loss[0] > 1", "subscript"),
    ("N if N > 1 else D", "condition"),
    ("(x := 1) == 1", "assignment"),
    ("getattr(N, 'to_csv')('pwned') == 1", "getattr"),
    ("`loss`.to_csv('pwned') == None", "attribute access"),
    ("b'pwned' == N", "constant"),
    ("N > 1e8; import os", "import"),
    ("N in D", "list of literals"),
    ("N in [open('pwned', 'w')]", "list element"),
    ("N > 1e8 & loss < 4", "& (write `and`)"),
    ("~(N > 1e8)", "~ (write `not`)"),
    ("N @ D == 1", "`@`"),
    ("log(N, base=10) > 1", "keyword argument"),
    ("{'a': N} == 1", "dict or set"),
    ("N is None", "comparison Is"),
    ("loss == None", "the constant None"),
]


@pytest.fixture
def folder(tmp_path):
    frame = simulate(get_law("chinchilla"), TRUE, n_points=30, noise=0.005, seed=1)
    frame["dataset"] = ["c4", "rpj"] * 15
    frame.to_csv(tmp_path / "runs.csv", index=False)
    return tmp_path


@pytest.mark.parametrize("payload,found", INJECTIONS)
def test_where_injection_is_refused(folder, payload, found):
    line = refused(["fit", "chinchilla", "runs.csv", "--where", payload, "--out", "fit.json"], folder,
                   contains=found)
    assert line.startswith("error: --where")


@pytest.mark.parametrize("payload,found", INJECTIONS[:8])
def test_holdout_injection_is_refused(folder, payload, found):
    line = refused(["backtest", "chinchilla", "runs.csv", "--holdout", payload, "--out", "bt.csv"], folder,
                   contains=found)
    assert line.startswith("error: --holdout")


@pytest.mark.parametrize("payload,found", INJECTIONS[:3])
def test_procedure_where_injection_is_refused(folder, payload, found):
    refused(["fit", "isoflop", "runs.csv", "--where", payload], folder, contains=found)


def test_fit_file_with_a_hostile_stored_filter_is_refused_when_plotted(folder):
    res = CliRunner().invoke(app, ["fit", "chinchilla", str(folder / "runs.csv"), "--where", "N > 0",
                                   "--out", str(folder / "fit.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads((folder / "fit.json").read_text())
    doc["data"]["where"] = "@pd.io.common.os.system('touch pwned') == 0"
    (folder / "fit.json").write_text(json.dumps(doc))
    refused(["plot", "fit.json", "--runs", "runs.csv", "--out", "fig.png"], folder, contains="@")


@pytest.mark.parametrize(
    "where,found",
    [
        ("unknown_col > 3", "no column or symbol 'unknown_col'"),
        ("dataset < 3", "cannot compute"),
        ("N + 1", "true/false condition"),
        ("N and D", "true/false conditions"),
        ("not N", "true/false conditions"),
        ("`Model Size > 3", "never closed"),
        ("`` > 3", "empty backticked name"),
        ("N > 1e8 and", "not a valid expression"),
        ("N" + " > 1" * 700, "limit is 2000"),
        ("N > " + "-" * 150 + "1", "nested"),
        ("N > 1e30", "leaves no rows"),
        ("log(N, D) > 1", "takes 1 argument"),
        ("log > 1", "is a function"),
    ],
)
def test_bad_filters_are_one_line_errors(folder, where, found):
    refused(["fit", "chinchilla", "runs.csv", "--where", where], folder, contains=found)


# ---- the language itself (library level) ----------------------------------------------------------
@pytest.fixture
def table():
    import pandas as pd

    return RunTable.from_frame(pd.DataFrame({
        "Model Size": [1e8, 2e9, 3e9, 4e9], "loss": [3.1, 2.5, 2.4, float("nan")], "dataset": ["c4", "rpj", "c4", "x"],
        "done": [True, False, True, True], "D": [1e9, 1e10, 2e10, 3e10],
    }), "t.csv")


@pytest.mark.parametrize(
    "where,rows",
    [
        ("`Model Size` >= 2e9 and loss < 2.45", [2]),
        ("dataset in ['c4', 'x']", [0, 2, 3]),
        ("dataset not in ['c4']", [1, 3]),
        ("loss == loss", [0, 1, 2]),  # NaN check
        ("done == True and not (dataset == 'x')", [0, 2]),
        ("1e9 < N < 3.5e9", [1, 2]),  # chained comparison; N resolved from `Model Size`
        ("log10(N) >= 9.4 or D / N > 9", [0, 2, 3]),
        ("C > 1e19", [1, 2, 3]),  # derived C = 6ND
        ("N * 2 ** -1 == 5e7", [0]),
        ("dataset == 'it''s'", None),  # implicit string concatenation: a string, no rows
    ],
)
def test_filter_language_selects_rows(table, where, rows):
    if rows is None:
        with pytest.raises(RunDataError, match="leaves no rows"):
            filter_rows(table, where)
        return
    assert list(filter_rows(table, where).frame.index) == rows


def test_filter_checker_reports_names_and_keeps_backticked_names():
    checked = check_filter("`Model Size` > 1 and `loss` < 3 and N > 2")
    assert checked.names == ("Model Size", "loss", "N")
    assert evaluate_filter(checked, {"Model Size": [2.0], "loss": [1.0], "N": [3.0]}, 1).tolist() == [True]


def test_unsafe_filter_error_is_a_run_data_error():
    with pytest.raises(UnsafeFilterError) as info:
        check_filter("loss.to_csv('x') == None", "--holdout")
    assert isinstance(info.value, RunDataError) and str(info.value).startswith("--holdout")
