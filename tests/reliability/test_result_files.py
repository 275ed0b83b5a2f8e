"""Result files with right-typed but out-of-range values are refused on load, naming the file and the field
(issue 28); tampered run results in sweep-status are one-line errors."""

from __future__ import annotations

import json

import pytest

import scalefit
from scalefit.errors import FitFileError
from tests.safety import edited, refused


@pytest.fixture(scope="module")
def calibrated(frame):
    return json.loads(scalefit.fit("chinchilla", frame).to_json())


@pytest.mark.parametrize("path,value,match", [
    ("params.alpha", -3.0, r"params.alpha: -3 is outside the bounds of law 'chinchilla' for alpha, \[0, 5\]"),
    ("params.E", -100.0, r"params.E: -100 is outside"),
    ("stats.space", "evil", r"stats.space: expected one of 'log', 'raw', got 'evil'"),
    ("stats.loss", "evil", r"stats.loss: expected one of 'huber', 'mse'"),
    ("stats.delta", -1.0, r"stats.delta: expected a number in \[0, inf\]"),
    ("calibration.noise", -0.1, r"calibration.noise: expected a number in \[0, inf\], got -0.1"),
    ("calibration.growth", 1e308, r"calibration.growth: 1e\+308 is not a calibration scalefit writes"),
    ("calibration.space", "evil", r"calibration.space: expected one of 'log', 'raw'"),
    ("data.ranges.N", [float("nan"), 1e9], r"data.ranges.N\[0\]: expected a finite number"),
    ("data.ranges.N", [1e10, 1e9], r"data.ranges.N: expected a range \[low, high\], got \[1e\+10, 1e\+09\]"),
])
def test_out_of_range_values_are_refused_naming_file_and_field(tmp_path, calibrated, path, value, match):
    (tmp_path / "fit.json").write_text(json.dumps(edited(calibrated, path, value)))
    with pytest.raises(FitFileError, match=rf"fit.json: {match}"):
        scalefit.load(tmp_path / "fit.json")
    refused(["predict", "fit.json", "--at", "N=1e9", "--at", "D=1e10"], tmp_path, contains=path.split(".")[0])


def test_an_untampered_file_still_loads(tmp_path, calibrated):
    (tmp_path / "fit.json").write_text(json.dumps(calibrated))
    assert scalefit.load(tmp_path / "fit.json").predict({"N": 1e9, "D": 1e10})[0] > 0


@pytest.mark.parametrize("field,value", [("wall_s", "abc"), ("wall_s", [1, 2]), ("n_params", "x"),
                                         ("message", 5)])
def test_tampered_run_result_in_sweep_status(tmp_path, field, value):
    sweep = tmp_path / "sw"
    (sweep / "r0").mkdir(parents=True)
    (sweep / "sweep.json").write_text(json.dumps({"name": "s", "source": "s.toml", "runs": [{"run_id": "r0"}]}))
    row = {"run_id": "r0", "status": "ok", "loss": 3.0, "wall_s": 1.0, field: value}
    (sweep / "r0" / "result.json").write_text(json.dumps(row))
    refused(["sweep-status", "sw"], tmp_path, contains=f"not a run result ({field}: expected")


def test_csv_with_old_mac_line_endings_is_read(tmp_path, frame):
    (tmp_path / "runs.csv").write_bytes(frame.to_csv(index=False, lineterminator="\r").encode())
    table = scalefit.read_runs(tmp_path / "runs.csv")
    assert len(table) == len(frame) and "loss" in table.columns


@pytest.fixture(scope="module")
def frontier(frame):
    return json.loads(scalefit.fit("isoflop", frame).to_json())


@pytest.mark.parametrize("field,value,match", [
    ("N", [7e7, -2.8e54, 1.8e8], r"points\[0\].N\[1\]: expected a finite number > 0"),
    ("L", None, r"points\[0\]: N and L are the runs' sizes and losses"),
    ("C", float("nan"), r"points\[0\].C: expected a finite number, got nan"),
    ("N_opt", 0, r"points\[0\].N_opt: expected a finite number > 0"),
])
def test_tampered_frontier_points_are_refused(tmp_path, frontier, field, value, match):
    point = dict(frontier["points"][0])
    if value is None:
        del point[field]
    else:
        point[field] = value
    (tmp_path / "iso.json").write_text(json.dumps({**frontier, "points": [point, *frontier["points"][1:]]}))
    with pytest.raises(FitFileError, match=match):
        scalefit.load(tmp_path / "iso.json")
    refused(["plot", "iso.json", "--out", "p.png"], tmp_path, contains="iso.json: points[0]")


def test_a_failed_command_prints_one_line_even_after_warnings():
    import warnings

    from typer.testing import CliRunner

    from scalefit.cli.common import handle_errors
    from scalefit.errors import RunDataError

    @handle_errors
    def command():
        warnings.warn("something on the way", stacklevel=2)
        raise RunDataError("runs.csv:3: the reason")

    import typer

    app = typer.Typer()
    app.command()(command)
    res = CliRunner().invoke(app, [])
    assert res.exit_code == 1 and res.stderr.splitlines() == ["error: runs.csv:3: the reason"]
