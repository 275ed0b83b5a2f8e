"""Reading run logs (CSV, TSV, Parquet) into a validated RunTable."""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError


@dataclass(frozen=True)
class RunTable:
    """A run log: one row per run (or per checkpoint). ``frame.index`` is the 0-based data row."""

    frame: pd.DataFrame  # the rows, columns as in the file
    source: str  # file path, or a label such as "<frame>"

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, source: str = "<frame>") -> RunTable:
        """Wrap a DataFrame (copied, never mutated) as a run table."""
        dupes = [c for c, k in Counter(map(str, frame.columns)).items() if k > 1]
        if dupes:
            raise RunDataError(f"{source}: duplicate column names {dupes}; rename them so each column is unique")
        if len(frame) == 0:
            raise RunDataError(f"{source}: the run log has a header but no rows")
        out = frame.copy()
        out.columns = [str(c) for c in out.columns]
        out.index = pd.RangeIndex(len(out))
        return cls(out, source)

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def columns(self) -> list[str]:
        return list(self.frame.columns)

    def location(self, row: int, column: str | None = None) -> str:
        """``file:line[:column]`` for a data row (the header is line 1)."""
        loc = f"{self.source}:{int(row) + 2}"
        return f"{loc}:{column}" if column is not None else loc

    def subset(self, rows: np.ndarray | pd.Index) -> RunTable:
        """The rows with the given index labels, keeping their original row numbers."""
        return RunTable(self.frame.loc[rows], self.source)

    def digest(self) -> str:
        """A short, stable hash of the table's content."""
        data = pd.util.hash_pandas_object(self.frame, index=False).to_numpy().tobytes()
        return hashlib.sha256(data + ",".join(self.columns).encode()).hexdigest()[:16]


def read_runs(path: str | Path) -> RunTable:
    """Read a run log from CSV, TSV (by ``.tsv``) or Parquet (by ``.parquet``). Nothing is written."""
    p = Path(path)
    if not p.exists():
        raise RunDataError(f"{p}: run log not found; check the path (cwd is {Path.cwd()})")
    if p.is_dir():
        raise RunDataError(f"{p}: is a directory; pass the CSV inside it (e.g. {p / 'runs.csv'})")
    suffix = p.suffix.lower()
    if suffix == ".parquet":
        try:
            frame = pd.read_parquet(p)
        except ImportError as exc:
            raise RunDataError(f"{p}: reading Parquet needs pyarrow; `pip install pyarrow` ({exc})") from None
        return RunTable.from_frame(frame, str(p))
    sep = "\t" if suffix in (".tsv", ".tab") else ","
    if p.stat().st_size == 0 or not p.read_text(errors="replace").strip():
        raise RunDataError(f"{p}: the file is empty; a run log needs a header row and one row per run")
    with p.open(newline="", errors="replace") as fh:
        header = next(csv.reader(fh, delimiter=sep))
    dupes = [c for c, k in Counter(h.strip() for h in header).items() if k > 1]
    if dupes:
        raise RunDataError(f"{p}:1: duplicate column names {dupes}; rename them so each column is unique")
    try:
        frame = pd.read_csv(p, sep=sep, skipinitialspace=True)
    except pd.errors.ParserError as exc:
        raise RunDataError(f"{p}: not a valid {'TSV' if sep == chr(9) else 'CSV'} file: {exc}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return RunTable.from_frame(frame, str(p))
