"""Reading run logs (CSV, TSV, JSON lines, Parquet) into a validated RunTable."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from scalefit.errors import RunDataError
from scalefit.runs.jsonl import check_scalar_cells, read_jsonl

JSONL_SUFFIXES = (".jsonl", ".ndjson")  # JSON-lines run logs: one object per line, no header line


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

    def line(self, row: int | np.ndarray) -> int | np.ndarray:
        """The file line of data row(s) ``row`` (the header is line 1; a JSON-lines file has none)."""
        return row + (1 if self.source.lower().endswith(JSONL_SUFFIXES) else 2)

    def location(self, row: int, column: str | None = None) -> str:
        """``file:line[:column]`` for a data row."""
        loc = f"{self.source}:{self.line(int(row))}"
        return f"{loc}:{column}" if column is not None else loc

    def subset(self, rows: np.ndarray | pd.Index) -> RunTable:
        """The rows with the given index labels, keeping their original row numbers."""
        return RunTable(self.frame.loc[rows], self.source)

    def digest(self) -> str:
        """A short, stable hash of the table's content."""
        data = pd.util.hash_pandas_object(self.frame, index=False).to_numpy().tobytes()
        return hashlib.sha256(data + ",".join(self.columns).encode()).hexdigest()[:16]


def read_runs(path: str | Path) -> RunTable:
    """Read a run log from CSV, TSV (by ``.tsv``), JSON lines (by ``.jsonl``/``.ndjson``, see
    :mod:`scalefit.runs.jsonl`) or Parquet (by ``.parquet``), or a bundled dataset (``dataset:NAME``, see
    :mod:`scalefit.datasets`), or a tracker's store (``tb:PATH``, ``mlflow:URI#EXPERIMENT``, ``wandb:PATH`` or
    ``wandb:ENTITY/PROJECT``, a folder of event files or W&B runs; ``?stitch=COLUMN`` joins resumed runs; see
    :mod:`scalefit.runs.trackers`). Nothing is written."""
    from scalefit.datasets import dataset_path, is_dataset
    from scalefit.runs import trackers

    if trackers.kind(path) is not None:
        return trackers.read_tracker(path)
    if is_dataset(path):
        table = read_runs(dataset_path(path))
        return RunTable(table.frame, str(path))
    p = Path(path)
    if not p.exists():
        raise RunDataError(f"{p}: run log not found; check the path (cwd is {Path.cwd()})")
    if p.is_dir():
        raise RunDataError(f"{p}: is a directory; pass the CSV inside it (e.g. {p / 'runs.csv'})")
    if p.suffix.lower() == ".parquet":
        frame = _read_parquet(p)
        check_scalar_cells(frame, str(p))
        return RunTable.from_frame(frame, str(p))
    if p.suffix.lower() in JSONL_SUFFIXES:
        return RunTable.from_frame(read_jsonl(p, _checked_bytes(p, "JSON-lines")), str(p))
    sep = "\t" if p.suffix.lower() in (".tsv", ".tab") else ","
    kind = "TSV" if sep == "\t" else "CSV"
    data = _checked_bytes(p, kind)
    first_line = (data.splitlines() or [b""])[0].decode("utf-8-sig")  # \n, \r\n or a lone \r ends it
    try:
        header = next(csv.reader(io.StringIO(first_line), delimiter=sep), [])
    except csv.Error as exc:
        raise RunDataError(f"{p}:1: cannot read the header row ({exc}); a {kind} run log starts with a row of "
                           "column names") from None
    dupes = [c for c, k in Counter(h.strip() for h in header).items() if k > 1]
    if dupes:
        raise RunDataError(f"{p}:1: duplicate column names {dupes}; rename them so each column is unique")
    try:  # pandas parses the checked bytes itself: no second, decoded copy of the file in memory
        frame = pd.read_csv(io.BytesIO(data), sep=sep, skipinitialspace=True, encoding="utf-8-sig")
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise RunDataError(f"{p}: not a valid {kind} file: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return RunTable.from_frame(frame, str(p))


def _checked_bytes(p: Path, kind: str) -> bytes:
    """The file's bytes, checked to be UTF-8 text; binary files and other encodings are refused, never guessed."""
    data = p.read_bytes()
    if b"\x00" in data:
        raise RunDataError(f"{p}: binary file (it contains NUL bytes), not a {kind} run log")
    try:
        blank = not data.decode("utf-8-sig").strip()  # validates; the decoded copy is dropped at once
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise RunDataError(
            f"{p}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save the file as "
            f"UTF-8, e.g. `iconv -f latin1 -t utf-8 {p.name} > {p.stem}.utf8{p.suffix}`"
        ) from None
    if blank:
        raise RunDataError(f"{p}: the file is empty; a run log needs a header row and one row per run")
    return data


def _read_parquet(p: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(p)
    except ImportError as exc:
        raise RunDataError(f"{p}: reading Parquet needs pyarrow; `pip install pyarrow` ({exc})") from None
    except Exception as exc:  # pyarrow raises its own types (ArrowInvalid, OSError ...) for non-Parquet bytes
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDataError(f"{p}: not a readable Parquet file ({first})") from None
