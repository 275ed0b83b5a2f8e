"""``scalefit train`` and ``scalefit coord-check`` through Typer's CliRunner."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

runner = CliRunner()
TINY = [
    "--corpus", "pydoc", "--width", "32", "--depth", "2", "--heads", "2", "--seq-len", "32", "--batch-size", "8",
    "--tokens", "8192", "--set", "eval_tokens=2048", "--set", "cloze_items=16", "--device", "cpu",
]  # fmt: skip


def test_train_writes_a_run_and_prints_json(tmp_path):
    out = tmp_path / "runs"
    res = runner.invoke(app, ["train", *TINY, "--out", str(out), "--name", "cli", "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert row["status"] == "ok" and row["n_tokens"] == 8192 and row["width"] == 32
    assert (out / "cli" / row["run_id"] / "result.json").is_file()


def test_train_reads_toml_and_set_wins(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("width = 48\nlr = 0.5\n")
    res = runner.invoke(app, ["train", *TINY, "-c", str(toml), "--set", "lr=0.002", "--out", str(tmp_path), "--json"])
    assert res.exit_code == 0, res.output
    row = json.loads(res.stdout)
    assert row["width"] == 32 and row["lr"] == 0.002  # option beats TOML; --set beats everything


@pytest.mark.parametrize(
    "args, message",
    [
        (["-p", "ntk"], "error: unknown parametrization 'ntk'; choose one of sp, mup"),
        (["--width", "65", "--heads", "4"], "error: width 65 is not divisible by n_heads 4"),
        (["--corpus", "no/such/file.txt"], "error: corpus 'no/such/file.txt' not found"),
        (["--tokens", "100"], "error: n_tokens 100 is less than one batch"),
        (["--set", "colour=red"], "error: unknown config key 'colour' in --set; allowed keys: name, seed"),
    ],
)
def test_bad_options_give_one_line_errors(args, message, tmp_path):
    res = runner.invoke(app, ["train", "--out", str(tmp_path), *args])
    assert res.exit_code == 1
    assert res.stderr.startswith(message) and res.stderr.count("\n") == 1
    assert not (tmp_path / "proxy").exists()


def test_help_documents_every_option_and_key():
    res = runner.invoke(app, ["train", "--help"], terminal_width=200)
    assert res.exit_code == 0
    for option in ("--config", "--set", "--out", "--corpus", "--width", "--heads", "--tokens-per-param",
                   "--parametrization", "--schedule", "--device", "--compile", "--json"):  # fmt: skip
        assert option in res.stdout
    assert "tokens_per_param" in res.stdout and "diverge_factor" in res.stdout


def test_coord_check_reports_slopes_and_plots(tmp_path):
    plot = tmp_path / "coord.png"
    args = ["coord-check", "--widths", "32,64,128", "--steps", "2", "--seq-len", "32", "--batch-size", "4"]
    res = runner.invoke(app, [*args, "--plot", str(plot), "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert set(report) >= {"sp", "mup"} and set(report["mup"]["slopes"]) >= {"logits", "block0.attn"}
    assert plot.stat().st_size > 1000
    res = runner.invoke(app, ["coord-check", "--widths", "30,64", "--heads", "4"])
    assert res.exit_code == 1 and "not divisible" in res.stderr


def test_coord_check_takes_model_options_and_a_depth_axis(tmp_path):
    args = ["coord-check", "--widths", "32,64", "--steps", "1", "--seq-len", "16", "--batch-size", "2", "-p", "mup"]
    res = runner.invoke(app, [*args, "--set", "arch=llama", "--set", "mlp=swiglu", "--seeds", "2", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    assert report["options"] == {"arch": "llama", "mlp": "swiglu"} and report["widths"] == [32, 64]
    assert report["seeds"] == 2
    plot = tmp_path / "depth.png"
    res = runner.invoke(app, ["coord-check", "--widths", "32", "--depths", "1,2", "--steps", "1", "--seq-len", "16",
                              "--batch-size", "2", "--plot", str(plot)])
    assert res.exit_code == 0, res.output
    assert "base depth 1" in res.stdout and "last_block" in res.stdout and plot.stat().st_size > 1000
    for bad, message in ((["--set", "widht=3"], "unknown config key"), (["--set", "width=64"], "not a model option"),
                         (["--set", "arch=llama", "--set", "bias=true"], "no biases"),
                         (["--seeds", "0"], "seeds must be a positive integer")):
        res = runner.invoke(app, [*args, *bad])
        assert res.exit_code == 1 and message in res.stderr, res.output
