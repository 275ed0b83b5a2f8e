"""No silent substitution (issue 28): a dropped row, a conflicting checkpoint, an unknown or repeated symbol, an
empty filter is an error or a warning that says so, through the CLI as through the library."""

from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

import scalefit
from scalefit.cli.app import app
from scalefit.errors import DroppedRowsWarning, RunDataError
from scalefit.runs import RunTable, reduce_runs
from tests.safety import refused


def run(args, folder):
    import os

    cwd = os.getcwd()
    os.chdir(folder)
    try:
        return CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(cwd)


def test_group_by_names_the_rows_with_an_empty_group_cell(folder, frame):
    data = frame.assign(dataset=["c4", "rpj"] * 15)
    data.loc[[3, 7], "dataset"] = None
    data.loc[11, "dataset"] = "  "
    data.to_csv(folder / "grouped.csv", index=False)
    with pytest.warns(DroppedRowsWarning, match=r"3 of 30 rows have an empty dataset cell \(lines 5, 9, 13\)"):
        res = scalefit.fit("chinchilla", folder / "grouped.csv", group_by="dataset", calibrate=False)
    assert sorted(res) == ["c4", "rpj"]
    assert sum(g.data["n_rows"] for g in res.values()) == 27
    out = run(["fit", "chinchilla", "grouped.csv", "--group-by", "dataset", "--out", "g.json"],
              folder)
    assert out.exit_code == 0, out.output
    assert "warning: grouped.csv: --group-by 'dataset': 3 of 30 rows" in out.stderr


def test_group_by_with_every_cell_empty_is_an_error(frame):
    with pytest.raises(RunDataError, match="every row's dataset cell is empty"):
        scalefit.fit("chinchilla", frame.assign(dataset=None), group_by="dataset", calibrate=False)


def curves(extra: list[dict] | None = None) -> pd.DataFrame:
    rows = [{"run_id": f"r{i}", "step": s, "loss": 3.0 - 0.1 * i - 0.001 * s} for i in range(3) for s in (1, 2, 3)]
    return pd.DataFrame(rows + (extra or []))


def test_conflicting_duplicate_checkpoints_name_both_lines():
    table = RunTable.from_frame(curves([{"run_id": "r1", "step": 3, "loss": 9.0}]), "curves.csv")
    with pytest.raises(RunDataError, match=r"^curves.csv:7 and curves.csv:11: run 'r1' logs step 3 twice with "
                                           r"different 'loss' \(2\.897 vs 9\.0\)"):
        reduce_runs(table, reduce="last")
    # an identical repeated row is no conflict, and the run keeps its value
    same = RunTable.from_frame(curves([{"run_id": "r1", "step": 3, "loss": 2.897}]), "curves.csv")
    assert reduce_runs(same, reduce="last").frame["loss"].round(6).tolist() == [2.997, 2.897, 2.797]


def test_conflicting_checkpoints_refused_by_the_cli(folder, frame):
    rows = frame.head(8).assign(run_id=[f"r{i}" for i in range(8)], step=100)
    dup = rows.iloc[[0]].assign(loss=9.0)
    pd.concat([rows, dup]).to_csv(folder / "dup.csv", index=False)
    refused(["fit", "chinchilla", "dup.csv", "--run", "run_id", "--reduce", "last", "--out", "d.json"], folder,
            contains="dup.csv:2 and dup.csv:10: run 'r0' logs step 100 twice")


@pytest.mark.parametrize("args,contains", [
    (["--map", "n=n_params"], "--map n=n_params: 'n' is not a symbol of law 'chinchilla'; the symbols are ['N', 'D'"),
    (["--map", "N=n_params", "--map", "N=n_tokens"], "--map N is given twice (N=n_params and N=n_tokens)"),
    (["--where", ""], "--where: a filter must be a non-empty string"),
    (["--where", "   "], "--where: a filter must be a non-empty string"),
    (["--seed", "-1", "--bootstrap", "5"], "seed -1: must be a whole number from 0 to 2**63 - 1"),
])
def test_fit_options_are_never_ignored(folder, args, contains):
    refused(["fit", "chinchilla", "runs.csv", *args, "--out", "f.json"], folder, contains=contains)


def test_a_derived_symbol_that_overflows_names_the_row():
    from scalefit.runs import resolve

    frame = pd.DataFrame({"n_params": [1e9, 1e-300], "flops": [1e21, 1e308], "loss": [2.5, 2.4]})
    with pytest.raises(RunDataError, match=r"^runs.csv:3: D = C/\(6N\) is inf from C=1e\+308, N=1e-300 \(1 such"):
        resolve(RunTable.from_frame(frame, "runs.csv"), ["N", "D", "L"])


def test_plot_of_runs_beyond_float_range_is_one_line(folder, fitted, frame):
    fitted.save(folder / "fit.json")
    frame.assign(n_params=frame["n_params"] * 1e290, n_tokens=frame["n_tokens"] * 1e290).drop(columns="flops").to_csv(
        folder / "huge.csv", index=False)
    refused(["plot", "fit.json", "--runs", "huge.csv", "--out", "p.png"], folder,
            contains="huge.csv:2: N = 7e+297 (column 'n_params') is beyond what a plot can draw")


def test_select_refuses_a_map_no_candidate_uses(folder):
    refused(["select", "runs.csv", "--candidates", "chinchilla", "--map", "n=n_params"], folder,
            contains="--map n=n_params: 'n' is not a symbol of the candidates (chinchilla)")
