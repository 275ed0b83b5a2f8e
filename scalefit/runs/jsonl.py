"""JSON-lines run logs (``.jsonl``, ``.ndjson``: e.g. W&B or trainer exports), read as data, never code.

One JSON object per line, each a row; its keys are columns. The file passes the checks every text run log passes
(UTF-8, no NUL bytes, not empty; a leading BOM is dropped); then, each a one-line
:class:`~scalefit.errors.RunDataError` naming ``file:line[:field]``:

* a line longer than :data:`MAX_LINE_CHARS` characters, a blank line between records (trailing blank lines are
  fine), a line that is not JSON, or JSON that is not an object (``runs.jsonl:17: not a JSON object``);
* nesting too deep to parse, a nested value (an object or a list: flatten it into its own columns first), an empty
  key or a key given twice in one object;
* a column holding different kinds of values on different lines (numbers, strings, true/false).

Handling, as for CSV: ``null`` and a key absent from a line are missing values; ``NaN`` and ``Infinity`` (which
Python's JSON reader accepts) are the floats they name, refused as law inputs like a CSV's ``nan``/``inf``; keys
are stripped of surrounding spaces. Line ``k`` of the file is data row ``k - 1`` (no header line).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from scalefit.errors import RunDataError

MAX_LINE_CHARS = 1 << 20  # one run's record; anything longer is not a run log line
_KIND = {bool: "true/false", int: "a number", float: "a number", str: "a string"}


def read_jsonl(p: Path, data: bytes) -> pd.DataFrame:
    """The rows of the JSON-lines bytes ``data`` (already checked to be non-empty UTF-8 text) read from ``p``."""
    lines = data.decode("utf-8-sig").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    records = [_record(p, i, line) for i, line in enumerate(lines, start=1)]
    _check_kinds(p, records)
    return pd.DataFrame.from_records(records)


def _record(p: Path, i: int, line: str) -> dict:
    if len(line) > MAX_LINE_CHARS:
        raise RunDataError(f"{p}:{i}: a line of {len(line):,} characters (at most {MAX_LINE_CHARS:,}); a JSON-lines "
                           "run log has one flat JSON object per line")
    if not line.strip():
        raise RunDataError(f"{p}:{i}: blank line; a JSON-lines run log has one JSON object per line")
    try:
        value = json.loads(line, object_pairs_hook=_pairs(p, i))
    except RunDataError:  # from the key checks
        raise
    except RecursionError:
        raise RunDataError(f"{p}:{i}: nested too deeply to read; a run log line is one flat JSON object") from None
    except json.JSONDecodeError as exc:
        raise RunDataError(f"{p}:{i}: not valid JSON ({exc.msg} at column {exc.colno})") from None
    except ValueError as exc:  # e.g. an integer literal with more digits than Python converts
        raise RunDataError(f"{p}:{i}: not a readable JSON value ({exc})") from None
    if not isinstance(value, dict):
        raise RunDataError(f"{p}:{i}: not a JSON object (a {type(value).__name__}); write one object per line, "
                           'e.g. {"run_id": "a", "n_params": 1e8, "loss": 3.2}')
    for key, v in value.items():
        if isinstance(v, (dict, list)):
            raise RunDataError(f"{p}:{i}:{key}: a nested {'object' if isinstance(v, dict) else 'list'}; columns hold "
                               "one number or string each: flatten it into its own keys first")
    return value


def _pairs(p: Path, i: int):
    def hook(pairs: list) -> dict:
        out: dict = {}
        for key, value in pairs:
            name = key.strip()
            if not name:
                raise RunDataError(f"{p}:{i}: an empty key; every column needs a name")
            if name in out:
                raise RunDataError(f"{p}:{i}:{name}: key given twice in one object; keep one")
            out[name] = value
        return out

    return hook


def _check_kinds(p: Path, records: list[dict]) -> None:
    """Every column holds one kind of value (numbers, strings or true/false) on every line that has it."""
    first: dict[str, tuple[str, int]] = {}
    for i, rec in enumerate(records, start=1):
        for key, value in rec.items():
            if value is None:
                continue
            kind = _KIND[type(value)]
            seen = first.setdefault(key, (kind, i))
            if seen[0] != kind:
                raise RunDataError(f"{p}:{i}:{key}: {kind} ({value!r}) where line {seen[1]} has {seen[0]}; a column "
                                   "holds one kind of value")


def check_scalar_cells(frame: pd.DataFrame, source: str) -> None:
    """RunDataError for a cell holding a nested value (a Parquet struct, list or map column)."""
    for col in frame.columns:
        if frame[col].dtype != object:
            continue
        nested = frame[col].map(lambda v: not pd.api.types.is_scalar(v))
        if nested.any():
            row = int(nested.to_numpy().argmax())
            raise RunDataError(f"{source}:{row + 2}:{col}: a nested value ({type(frame[col].iloc[row]).__name__}); "
                               "columns hold one number or string each: flatten it into its own columns first")
