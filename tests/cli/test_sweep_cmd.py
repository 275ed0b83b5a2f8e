"""``scalefit sweep``: dry runs, presets, status, and one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app

runner = CliRunner()


def invoke(*args):
    return runner.invoke(app, list(args))


def test_dry_run_of_a_preset_lists_runs_with_sizes_and_time(tmp_path):
    res = invoke("sweep", "--preset", "chinchilla-cpu", "--dry-run", "--out", str(tmp_path / "c"))
    assert res.exit_code == 0, res.output
    lines = res.output.splitlines()
    assert lines[1].startswith("56 runs ->")
    assert lines[2].split()[:6] == ["run_id", "width", "depth", "N", "D", "M"]
    assert len(lines) >= 2 + 1 + 56 + 1 and "estimated" in res.output and "min" in res.output
    assert not (tmp_path / "c").exists()  # a dry run writes nothing


def test_dry_run_json_has_n_d_flops_and_estimates():
    res = invoke("sweep", "--preset", "lr-transfer-cpu", "--dry-run", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert len(data["runs"]) == 42 and data["device"] == "cpu"
    run = data["runs"][0]
    assert run["n_params"] > 0 and run["n_tokens"] > 0 and run["flops"] > 0 and run["estimate_s"] > 0


def test_list_and_show_spec(tmp_path):
    res = invoke("sweep", "--list")
    assert res.exit_code == 0 and "chinchilla-cpu" in res.output and "schedules" in res.output
    from scalefit.sweeps.presets import list_presets
    # every name stands apart from its description, the longest one too
    assert all(line.split()[0] in list_presets() for line in res.output.splitlines()), res.output
    res = invoke("sweep", "--preset", "schedules-cpu", "--show-spec")
    assert res.exit_code == 0 and res.output.startswith('name = "schedules-cpu"') and "[[grid]]" in res.output
    path = tmp_path / "s.toml"
    path.write_text(res.output)
    res = invoke("sweep", str(path), "--dry-run", "--set", "seed=3")
    assert res.exit_code == 0, res.output
    assert "3 runs" in res.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--preset", "nope"], "unknown preset 'nope'"),
        ([], "give a spec file or --preset NAME"),
        (["--preset", "chinchilla-cpu", "--set", "lr=1e-3", "--set", "flops=1e12", "--dry-run"], "varies it"),
        (["--preset", "chinchilla-cpu", "--set", "colour=red", "--dry-run"], "unknown key 'colour'"),
        (["--preset", "chinchilla-cpu", "--executor", "k8s", "--dry-run"], "unknown executor"),
    ],
)
def test_errors_are_one_line(args, message):
    res = invoke("sweep", *args)
    assert res.exit_code == 1
    assert message in res.output and res.output.count("error:") == 1


def test_run_and_status(tmp_path):
    pytest.importorskip("torch")
    spec = tmp_path / "tiny.toml"
    spec.write_text(
        'name = "tiny"\n[fixed]\ncorpus = "pydoc"\nseq_len = 32\nbatch_size = 4\nn_heads = 2\ncloze_items = 0\n'
        'eval_tokens = 256\nn_evals = 2\ntokens = 1024\n[[grid]]\nwidth = 16\ndepth = 1\nlr = [1e-3, 1e3]\n'
    )
    out = tmp_path / "tiny"
    res = invoke("sweep", str(spec), "--out", str(out), "--workers", "0", "--device", "cpu", "--no-progress")
    assert res.exit_code == 0, res.output
    assert "ran 2 runs" in res.output and "1 ok, 1 diverged" in res.output
    assert len(pd.read_csv(out / "runs.csv")) == 2
    res = invoke("sweep-status", str(out))
    assert res.exit_code == 0 and "2 runs planned: 1 ok, 1 diverged, 0 failed, 0 pending" in res.output
    assert "training loss" in res.output  # the diverged run's message
    res = invoke("sweep", str(spec), "--out", str(out), "--workers", "0", "--json")
    assert res.exit_code == 0 and json.loads(res.output)["executed"] == []
