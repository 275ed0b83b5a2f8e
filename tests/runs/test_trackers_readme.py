"""The README's tracker recipes ("Run logs in TensorBoard, MLflow and W&B"), run as written on stores that each
tracker's own library wrote in the working folder (a 6-run sweep, one run resumed as two tracker runs)."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from tests.runs.test_trackers import truth, write_mlflow, write_tb, write_wandb

README = Path(__file__).resolve().parents[2] / "README.md"
SECTION = "## Run logs in TensorBoard, MLflow and W&B"


def recipe() -> list[str]:
    text = README.read_text()
    body = text[text.index(SECTION):]
    block = body[body.index("```shell\n") + len("```shell\n"):]
    block = block[:block.index("```")]
    return [line for line in block.splitlines() if line.strip() and not line.startswith("#")]


def test_readme_tracker_recipes_run(tmp_path, monkeypatch):
    import scalefit

    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    frame = truth()
    frame = frame[frame["step"] % 40 == 0]  # 50 checkpoints a run: the recipe, not the volume, is under test
    monkeypatch.chdir(tmp_path)
    (tmp_path / "logs").mkdir()
    write_tb(tmp_path / "logs", frame)
    write_mlflow(tmp_path / "mlflow.db", frame)
    write_wandb(tmp_path, frame)
    commands = recipe()
    assert [shlex.split(c)[3].split(":")[0] for c in commands] == ["tb", "mlflow", "wandb"]
    fits = {}
    for command in commands:
        args = shlex.split(command)
        assert args[0] == "scalefit"
        res = CliRunner().invoke(app, args[1:])
        assert res.exit_code == 0, (command, res.output)
        fits[args[3].split(":")[0]] = scalefit.load(args[args.index("--out") + 1])
    # the stitched MLflow and W&B sweeps are the same float64 data: the same fit
    for name, value in fits["mlflow"].params.items():
        assert fits["wandb"].params[name] == pytest.approx(value, rel=1e-9)
    assert fits["tb"].stats["n"] == 7 and fits["mlflow"].stats["n"] == fits["wandb"].stats["n"] == 6  # runs
