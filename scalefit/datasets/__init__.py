"""Small public reference datasets shipped with scalefit, usable wherever a run log is: ``dataset:NAME``.

    scalefit datasets                                   # the list below, with sources and licences
    scalefit fit chinchilla dataset:epoch-chinchilla --where "loss < 3.44"

Each file is a byte-for-byte copy of the published data (or, for Gadre et al., a flattening of their
per-run JSON files into one row per run); ``DATASETS`` says where it came from, under which licence, and
which numbers the paper (or its replication) reports on it, so a fresh clone can reproduce them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scalefit.errors import RunDataError

PREFIX = "dataset:"
_HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Dataset:
    """A bundled run log and where it came from."""

    name: str  # what follows ``dataset:``
    file: str  # file name inside scalefit/datasets
    rows: int  # data rows in the file
    title: str  # one line: what the rows are
    source: str  # paper and repository snapshot the file was copied from
    licence: str  # the licence the source states (or that none is stated)
    reference: str  # the numbers the paper or its replication reports on these rows
    example: str  # a scalefit command that uses it

    @property
    def path(self) -> Path:
        return _HERE / self.file


DATASETS: dict[str, Dataset] = {d.name: d for d in (
    Dataset(
        "epoch-chinchilla", "epoch_chinchilla.csv", 245,
        "Chinchilla IsoFLOP points (N, C, final loss) read off Hoffmann et al. 2022, Figure 4",
        "Besiroglu et al. 2024, 'Chinchilla Scaling: A replication attempt'; github.com/epoch-research/"
        "analyzing-chinchilla data/svg_extracted_data.csv at 92258837 (2024-05-14)",
        "no licence file in the repository snapshot; shipped unchanged with attribution as published research data",
        "Epoch's fit on the 240 rows with loss < 3.44 (Huber delta 1e-3 on log loss): E=1.8172, A=477.8, "
        "B=2143.9, alpha=0.3473, beta=0.3672; 95% intervals E 1.769-1.871, alpha 0.317-0.373, beta 0.331-0.415",
        'scalefit fit chinchilla dataset:epoch-chinchilla --where "loss < 3.44" --bootstrap 1000',
    ),
    Dataset(
        "gadre-overtrain", "gadre_overtrain.csv", 104,
        "104 open_lm runs (C4, RedPajama, RefinedWeb; N 11M-6.9B; M = D/N 5-640) with 8 eval losses and "
        "46 downstream accuracies",
        "Gadre et al. 2024, 'Language models scale reliably with over-training and on downstream tasks'; "
        "github.com/mlfoundations/scaling exp_data/ at a003c491 (2024-04-01), one row per run",
        "MIT (the repository's LICENSE.txt)",
        "RedPajama, the paper's 5-run fit set, C4 eval loss: E=1.84, a=212, b=367, eta=0.136; held-out loss "
        "errors 0.7% (1.4B M=640, 6.9B M=20)",
        "scalefit fit overtrain dataset:gadre-overtrain --target loss_c4_val "
        "--where \"dataset == 'rpj' and ((M == 20 and N < 1e9) or (N < 2e7 and M == 320))\" --loss mse --space raw",
    ),
    Dataset(
        "steplaw-dense", "steplaw_dense.csv", 1911,
        "1,911 dense runs of the Step Law learning-rate and batch-size grid (17 (N, D) cells)",
        "Li et al. 2025, 'Predictable Scale: Part I' (Step Law); github.com/step-law/steplaw data/"
        "dense_lr_bs_loss.csv at 32a8f4cc",
        "no licence file in the repository snapshot; shipped unchanged with attribution as published research data",
        "the released rows alone give lr* = 77.7 N^-0.766 D^0.197 and B* = 0.209 D^0.613 tokens (the paper's "
        "constants used more runs than were released)",
        'scalefit fit hparams dataset:steplaw-dense --target "smooth loss" --opt seq_len=2048',
    ),
)}


def is_dataset(path: object) -> bool:
    """Whether a run-log argument names a bundled dataset (``dataset:NAME``)."""
    return str(path).startswith(PREFIX)


def dataset_path(ref: object) -> Path:
    """The file of ``dataset:NAME`` (or plain ``NAME``); an unknown name lists the known ones."""
    name = str(ref)[len(PREFIX):] if is_dataset(ref) else str(ref)
    if name not in DATASETS:
        raise RunDataError(f"unknown dataset {name!r}; bundled datasets are "
                           f"{', '.join(PREFIX + n for n in DATASETS)} (see `scalefit datasets`)")
    return DATASETS[name].path


__all__ = ["DATASETS", "PREFIX", "Dataset", "dataset_path", "is_dataset"]
