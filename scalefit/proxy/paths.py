"""Where runs are written: names that stay single folder names, and output folders that can hold runs.

Run and sweep names become folders (``<out>/<name>/<run_id>/``), so a name is refused unless it is one
path component: not empty, not ``.`` or ``..``, no ``/`` or ``\\``, no drive (``C:``), no control characters,
at most 255 bytes. This keeps every file a run writes inside the output folder it was given.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path, PureWindowsPath

from scalefit.errors import ConfigError

__all__ = ["CHECKPOINT_FILE", "check_name", "check_out_folder", "checkpoint_usage", "name_problem"]

MAX_NAME_BYTES = 255  # longest file name of common file systems
CHECKPOINT_FILE = "checkpoint.pt"  # a run's mid-run checkpoint, in its run folder (proxy.checkpoint)


def name_problem(name: object) -> str | None:
    """What makes ``name`` unusable as a single folder name, or None when it is one."""
    if not isinstance(name, str):
        return f"must be text, got {type(name).__name__}"
    if name.strip() == "":
        return "is empty"
    if name in (".", ".."):
        return "is a relative folder reference"
    if "/" in name or "\\" in name:
        return "contains a path separator"
    if PureWindowsPath(name).drive:
        return "starts with a drive"
    if any(unicodedata.category(c) == "Cc" for c in name):
        return "contains a control character"
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        return f"is longer than {MAX_NAME_BYTES} bytes"
    return None


def check_name(name: object, field: str, error: type[Exception] = ConfigError) -> str:
    """``name`` when it is a single folder name (see the module doc); else ``error`` naming ``field``."""
    problem = name_problem(name)
    if problem:
        raise error(
            f"{field} {name!r} {problem}; a name must be a single folder name (no '/', '\\', '..', drive or "
            "control characters), e.g. my-sweep"
        )
    return name  # type: ignore[return-value]


def check_out_folder(path: str | Path, option: str = "--out", error: type[Exception] = ConfigError) -> Path:
    """``path`` as an output folder: refuse an empty path, and a path that is (or lies under) a file."""
    if str(path).strip() == "":
        raise error(f"{option} is empty; give a folder, e.g. {option} runs")
    p = Path(path)
    for part in (p, *p.parents):
        if part.exists():
            if not part.is_dir():
                where = "is a file" if part == p else f"lies under the file {str(part)!r}"
                raise error(f"{option} {str(path)!r} {where}; give a folder, e.g. {option} runs")
            break
    return p


def checkpoint_usage(folder: str | Path) -> tuple[int, int]:
    """(checkpoints, bytes) of the mid-run checkpoints under ``folder`` (a run, sweep or runs folder)."""
    sizes = [p.stat().st_size for p in Path(folder).glob(f"**/{CHECKPOINT_FILE}") if p.is_file()]
    return len(sizes), sum(sizes)
