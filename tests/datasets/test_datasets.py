"""The bundled reference datasets: present, intact copies of the published files, usable as run logs."""

from __future__ import annotations

import shlex

import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.datasets import DATASETS, dataset_path
from scalefit.errors import RunDataError
from scalefit.runs import read_runs

SHARED = {"epoch-chinchilla": "chinchilla/svg_extracted_data.csv", "gadre-overtrain": "gadre/runs_flat.csv",
          "steplaw-dense": "steplaw/dense_lr_bs_loss.csv"}


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_reads_with_its_stated_row_count(name):
    table = read_runs(f"dataset:{name}")
    assert len(table) == DATASETS[name].rows
    assert table.source == f"dataset:{name}"
    assert DATASETS[name].licence and DATASETS[name].source and DATASETS[name].reference


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_dataset_is_a_byte_identical_copy_of_the_reference_data(name):
    from tests.conftest import SHARED_DATA

    reference = SHARED_DATA / SHARED[name]
    if not reference.exists():
        pytest.skip(f"reference data {reference} not available")
    assert dataset_path(name).read_bytes() == reference.read_bytes()


def test_every_shipped_file_is_listed():
    files = {p.name for p in dataset_path("epoch-chinchilla").parent.glob("*.csv")}
    assert files == {d.file for d in DATASETS.values()}


def test_unknown_dataset_lists_the_known_ones():
    with pytest.raises(RunDataError, match="dataset:epoch-chinchilla"):
        read_runs("dataset:chinchila")


@pytest.mark.parametrize("name", ["epoch-chinchilla", "gadre-overtrain"])
def test_dataset_example_command_runs(name):
    args = shlex.split(DATASETS[name].example)[1:]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output


def test_epoch_fit_on_the_bundled_data_reproduces_epoch():
    res = CliRunner().invoke(app, ["fit", "chinchilla", "dataset:epoch-chinchilla", "--where", "loss < 3.44",
                                   "--json"])
    assert res.exit_code == 0, res.output
    import json

    p = json.loads(res.stdout)["params"]
    assert p["E"] == pytest.approx(1.8172, abs=5e-4) and p["alpha"] == pytest.approx(0.3473, abs=5e-4)
    assert p["beta"] == pytest.approx(0.3672, abs=5e-4)


def test_datasets_command_lists_all():
    res = CliRunner().invoke(app, ["datasets"])
    assert res.exit_code == 0
    for name in DATASETS:
        assert f"dataset:{name}" in res.output
