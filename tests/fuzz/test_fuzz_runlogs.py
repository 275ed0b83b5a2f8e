"""Generated run logs (values, encodings, headers, duplicate keys, separators) through the commands that read them
(issue 28): each run keeps the contract of :mod:`tests.fuzz.harness`, and the library's reader raises only
ScalefitErrors."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from scalefit.laws import get_law
from tests.fuzz.conftest import budget
from tests.fuzz.harness import check_cli, sandbox
from tests.fuzz.strategies import SPECIAL, text

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
HEADERS = ["n_params", "n_tokens", "flops", "loss", "run_id", "step", "dataset", "N", "D", "C", "L", "params",
           "tokens", "Model Size", "Training FLOP", "", " n_params", "loss ", "é", "a,b", '"q"', "n_params.1",
           "\ufeffN"]
CELL_TEXT = ["", " ", "nan", "NaN", "inf", "-inf", "abc", "1e400", "-1", "0", "1,5", "0x10", "TRUE", "\x00", "😀",
             "=cmd()", '"', "1e9 ", "\t"]


def clean_rows(n: int) -> list[dict]:
    """``n`` runs of the Chinchilla law on an IsoFLOP-like grid (exact values)."""
    law = get_law("chinchilla")
    rows = []
    for i in range(n):
        N = 7e7 * 1.6 ** (i % 9)
        D = 6e19 / (6 * N) * 3 ** (i // 9)
        loss = float(law({"N": N, "D": D}, TRUE)) * (1 + 0.01 * math.sin(i))
        rows.append({"n_params": N, "n_tokens": D, "flops": 6 * N * D, "loss": loss, "run_id": f"r{i % 7}",
                     "step": 100 * (i // 7), "dataset": "c4" if i % 2 else "rpj"})
    return rows


cell = st.one_of(st.sampled_from(SPECIAL), st.floats(), st.integers(-10**25, 10**25), st.sampled_from(CELL_TEXT),
                 text(6))


@st.composite
def run_logs(draw) -> bytes:
    """A run log's bytes: mostly valid rows with some cells, headers or bytes spoiled."""
    n = draw(st.integers(0, 14))
    rows = clean_rows(n)
    headers = list(rows[0]) if rows else draw(st.lists(st.sampled_from(HEADERS), max_size=6))
    for _ in range(draw(st.integers(0, 3))):  # rename or duplicate a header
        if headers:
            i = draw(st.integers(0, len(headers) - 1))
            headers[i] = draw(st.sampled_from(HEADERS + headers))
    table = [[r[k] for k in r] for r in rows]
    for _ in range(draw(st.integers(0, 4))):  # spoil cells
        if table:
            i, j = draw(st.integers(0, len(table) - 1)), draw(st.integers(0, len(headers) - 1))
            table[i][j] = draw(cell)
    if table and draw(st.booleans()):  # a ragged row
        table[draw(st.integers(0, len(table) - 1))].extend([1, 2][: draw(st.integers(1, 2))])
    if table and draw(st.booleans()):  # a duplicated checkpoint, maybe with another loss
        dup = list(table[0])
        if len(dup) > 3 and draw(st.booleans()):
            dup[3] = draw(cell)
        table.append(dup)
    sep = draw(st.sampled_from([",", ",", ",", ";", "\t"]))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text_ = end.join(sep.join(map(str, r)) for r in [headers, *table]) + draw(st.sampled_from(["", end, end * 3]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "utf-16", "latin-1", "cp1252"]))
    raw = text_.encode(encoding, errors="replace")
    if draw(st.integers(0, 9)) == 0:
        raw = draw(st.binary(max_size=40)) + raw
    return raw


@given(raw=run_logs(), suffix=st.sampled_from([".csv", ".csv", ".tsv", ".jsonl", ".txt", ""]))
@budget(1.0)
def test_read_runs_raises_only_scalefit_errors(raw, suffix):
    from scalefit.errors import ScalefitError
    from scalefit.runs import read_runs, resolve

    with sandbox() as (_, work):
        path = work / f"runs{suffix}"
        path.write_bytes(raw)
        try:
            table = read_runs(path)
            resolve(table, ["N", "D", "L"])
        except ScalefitError:
            pass
        assert path.read_bytes() == raw


@given(raw=run_logs(), args=st.sampled_from([
    ["fit", "isoflop", "runs.csv", "--out", "out.json", "--json"],
    ["fit", "envelope", "runs.csv", "--out", "out.json", "--json"],
    ["fit", "chinchilla", "runs.csv", "--run", "run_id", "--reduce", "last", "--out", "out.json", "--json"],
    ["fit", "chinchilla", "runs.csv", "--group-by", "dataset", "--out", "out.json", "--json"],
    ["fit", "chinchilla", "runs.csv", "--out", "out.json", "--json"],
]))
@budget(0.3)
def test_fit_on_generated_run_logs(raw, args):
    with sandbox() as (root, work):
        (work / "runs.csv").write_bytes(raw)
        check_cli(args, work, root, outputs=("out.json",))


@given(raw=run_logs())
@budget(0.15)
def test_predict_and_plot_with_generated_inputs(raw):
    """A generated CSV as predict's --input and as plot's --runs."""
    import scalefit

    with sandbox() as (root, work):
        (work / "pts.csv").write_bytes(raw)
        scalefit.fit("chinchilla", _frame(), calibrate=False).save(work / "fit.json")
        check_cli(["predict", "fit.json", "--input", "pts.csv", "--out", "pred.csv"], work, root, outputs=("pred.csv",))
        check_cli(["plot", "fit.json", "--runs", "pts.csv", "--out", "p.png"], work, root, outputs=("p.png",),
                  finite_stdout=False)


def _frame():
    import pandas as pd

    return pd.DataFrame(clean_rows(12))
