"""Atomic file output: every file scalefit writes goes through here (temp file + rename)."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scalefit.errors import OutputPathError

_UMASK_LOCK = threading.Lock()


def _umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as an output file: refuse an empty path and an existing folder (``--out .``)."""
    if str(path).strip() == "":
        raise OutputPathError(f"{option} is empty; give a file name, e.g. {option} fit.json")
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{option} {str(path)!r} is a folder; give a file name inside it, e.g. {p / 'out.json'}")
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)  # symlinks and hard links
    except OSError:
        pass
    return a.resolve() == b.resolve()


def refuse_input_overwrite(out: str | Path, inputs: Iterable[str | Path | None], option: str = "--out") -> Path:
    """Refuse an output path that is (through symlinks or hard links) one of the command's inputs."""
    from scalefit.datasets import dataset_path, is_dataset

    p = check_output_file(out, option)
    for src in inputs:
        if src is None or str(src) == "":
            continue
        if _same_file(p, dataset_path(src) if is_dataset(src) else Path(src)):
            raise OutputPathError(
                f"{option} {str(out)!r} is the input {str(src)!r}; scalefit never writes over its inputs, "
                f"choose another output path"
            )
    return p


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp") -> Iterator[Path]:
    """A temp path in ``path``'s folder, renamed onto ``path`` when the block ends without error.

    The file gets the mode a plain ``open()`` would give (0644 under umask 022), not mkstemp's 0600.
    A write that fails (disk full, permissions) raises OutputPathError naming the path; the temp file is
    removed and ``path`` is left as it was.
    """
    path = check_output_file(path, "output")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
        os.close(fd)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write here: {exc.strerror or exc}") from None
    tmp = Path(tmp)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"{path}: cannot write: {exc.strerror or exc}; nothing was written") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON, atomically."""
    return write_text_atomic(path, json.dumps(obj, indent=2, default=json_default) + "\n")


def write_csv_atomic(path: str | Path, frame: Any) -> Path:
    """Write a pandas DataFrame as CSV (no index), atomically."""
    return write_text_atomic(path, frame.to_csv(index=False))


def json_default(o: Any) -> Any:
    """JSON encoder fallback for numpy scalars and arrays."""
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"cannot write {type(o).__name__} as JSON")


def read_toml(path: str | Path, error: type[Exception], what: str = "file") -> dict:
    """Parse a TOML file; a missing file or invalid TOML raises ``error`` naming the path."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib
    path = Path(path)
    if not path.is_file():
        raise error(f"{what} {path} not found")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise error(f"{path}: not a UTF-8 text file (byte 0x{exc.object[exc.start]:02x} at offset {exc.start}); "
                    f"a TOML {what} is text") from None
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{path}: invalid TOML: {exc}") from None
