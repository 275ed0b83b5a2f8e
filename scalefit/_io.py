"""Atomic file output: every file scalefit writes goes through here (temp file + rename).

What every write guarantees (:func:`atomic_path`):

- only regular files are written: an output that is a device, FIFO or socket, a link to one, or a path in
  ``/proc``, ``/sys`` or directly in ``/dev`` is refused in one line (``--out /dev/full`` never replaces the
  device, ``--out /dev/stdout`` never replaces the link);
- an existing output keeps its permission bits (a 0600 file stays 0600); a new one gets what ``open()`` gives;
- with ``within=DIR`` no component between ``DIR`` and the file (the file included) may be a symbolic link, so a
  link planted in a sweep folder never sends a write outside it;
- hidden ``.NAME.XXXXXXXX.tmp`` files of our own left by a killed write (kill -9) are removed by the next write to
  ``NAME``; a temp file still being written is kept (its writer holds a lock on it).
"""

from __future__ import annotations

import json
import os
import re
import stat
import sys
import tempfile
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scalefit.errors import OutputPathError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

_UMASK_LOCK = threading.Lock()
_PSEUDO = (Path("/proc"), Path("/sys"))  # kernel pseudo file systems: never a place for an output
_KINDS = ((stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"))
STALE_AGE_S = 24 * 3600  # without flock (Windows), a temp file older than this counts as left by a killed write


def _umask() -> int:
    """The process umask (read by setting and restoring it, under a lock)."""
    with _UMASK_LOCK:
        mask = os.umask(0o022)
        os.umask(mask)
    return mask


def cache_dir() -> Path:
    """scalefit's own cache folder (tokenizers and token ids, tracker reads): ``$SCALEFIT_CACHE``, else
    ``$XDG_CACHE_HOME/scalefit``, else ``~/.cache/scalefit``; never beside a user's files."""
    if os.environ.get("SCALEFIT_CACHE"):
        return Path(os.environ["SCALEFIT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "scalefit"


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """``path`` as an output file: refuse an empty path and an existing folder (``--out .``)."""
    if str(path).strip() == "":
        raise OutputPathError(f"{option} is empty; give a file name, e.g. {option} fit.json")
    if str(path) == "-":
        raise OutputPathError(f"{option} -: this command writes a file, not stdout; give a file name, "
                              f"e.g. {option} out.json")
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{option} {str(path)!r} is a folder; give a file name inside it, e.g. {p / 'out.json'}")
    problem = special_file_problem(p)
    if problem:
        raise OutputPathError(f"{option} {str(path)!r} {problem}; scalefit writes only regular files, "
                              "give a file path (e.g. out.json)")
    return p


def _in_pseudo(p: Path) -> bool:
    return any(p == root or root in p.parents for root in _PSEUDO) or p.parent == Path("/dev")


def special_kind(mode: int) -> str | None:
    """What a file of this ``st_mode`` is when it is a device, FIFO or socket ("a character device"), else None."""
    return next((name for test, name in _KINDS if test(mode)), None)


def special_file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be replaced by an output file, or None: it is (or links to) a device, FIFO or socket,
    or lies in /proc, /sys or directly in /dev. Links are followed hop by hop (never replaced blindly)."""
    start = p = Path(os.path.abspath(path))
    for _ in range(40):  # the kernel's own limit on links in a chain
        what = "lies in" if p == start else f"links to {str(p)!r}, in"
        if _in_pseudo(p):
            return f"{what} {p.parent}, a system folder of devices and kernel files"
        try:
            st = os.lstat(p)
        except OSError:  # does not exist (yet), or cannot be read: the write itself will say
            return None
        if not stat.S_ISLNK(st.st_mode):
            kind = special_kind(st.st_mode)
            if kind is None:
                return None
            return f"is {kind}" if p == start else f"links to {str(p)!r}, {kind}"
        p = Path(os.path.abspath(p.parent / os.readlink(p)))
    return "is a chain of too many symbolic links"


def check_no_links(path: str | Path, within: str | Path) -> Path:
    """``path`` when no component between ``within`` and it (``path`` included) is a symbolic link.

    OutputPathError otherwise: a link inside a folder scalefit owns (a sweep folder, a run folder) could send
    the write anywhere on the machine, so it is never followed.
    """
    p, root = Path(path), Path(within)
    try:
        rel = p.relative_to(root)
    except ValueError:
        raise OutputPathError(f"{p} lies outside {root}; scalefit writes a run's files only inside it") from None
    part = root
    for name in rel.parts:
        part = part / name
        if part.is_symlink():
            raise OutputPathError(f"{part} is a symbolic link (to {os.readlink(part)!r}); scalefit never follows a "
                                  f"link inside {root} (the write could land outside it): remove the link")
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


def _stale_temps(folder: Path, name: str) -> Iterator[Path]:
    """Our own hidden temp files for ``name`` in ``folder`` (``.NAME.XXXXXXXX.tmp`` and ``.tmp.FMT``)."""
    pattern = re.compile(rf"\.{re.escape(name)}\.[a-z0-9_]{{8}}\.tmp(\.[A-Za-z0-9]+)?")
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        if pattern.fullmatch(entry.name) and entry.is_file(follow_symlinks=False):
            yield Path(entry.path)


def _remove_stale_temps(folder: Path, name: str) -> None:
    """Remove the temp files a killed write of ``name`` left; a temp file whose writer still runs is kept."""
    for tmp in _stale_temps(folder, name):
        try:
            if fcntl is None:  # pragma: no cover - no flock: only clearly old files
                if time.time() - tmp.stat().st_mtime > STALE_AGE_S:
                    tmp.unlink()
                continue
            fd = os.open(tmp, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held by a live writer: BlockingIOError
                tmp.unlink()
            finally:
                os.close(fd)
        except OSError:  # in use, gone already, or not ours to remove
            continue


def _mode_for(path: Path) -> int:
    """The permission bits an output at ``path`` gets: the existing regular file's, else ``open()``'s."""
    try:
        st = os.stat(path)
        if stat.S_ISREG(st.st_mode):
            return stat.S_IMODE(st.st_mode) & 0o777
    except OSError:
        pass
    return 0o666 & ~_umask()


@contextmanager
def atomic_path(path: str | Path, suffix: str = ".tmp", *, within: str | Path | None = None) -> Iterator[Path]:
    """A temp path in ``path``'s folder, renamed onto ``path`` when the block ends without error.

    See the module doc for what is refused and kept: only regular files, the existing file's mode (a new file
    gets what a plain ``open()`` gives, 0644 under umask 022, not mkstemp's 0600), no link below ``within``,
    stale temp files removed. A write that fails (disk full, permissions) raises OutputPathError naming the
    path; the temp file is removed and ``path`` is left as it was.
    """
    path = check_output_file(path, "output")
    if within is not None:
        check_no_links(path, within)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(path.parent, path.name)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix)
    except OSError as exc:
        raise OutputPathError(f"{path}: cannot write here: {exc.strerror or exc}") from None
    tmp = Path(tmp)
    if fcntl is None:  # pragma: no cover - Windows: no lock, and an open file cannot be renamed
        os.close(fd)
        fd = None
    try:
        if fd is not None:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # marks the temp file as in use until we are done
        yield tmp
        os.chmod(tmp, _mode_for(path))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise OutputPathError(f"{path}: cannot write: {exc.strerror or exc}; nothing was written") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        if fd is not None:
            os.close(fd)


def write_text_atomic(path: str | Path, text: str, *, within: str | Path | None = None) -> Path:
    """Write ``text`` to ``path`` via a temp file in the same folder and a rename; returns the path.

    ``within``: a folder scalefit owns that holds ``path``; no link below it is followed (see :func:`atomic_path`).
    """
    path = Path(path)
    with atomic_path(path, within=within) as tmp:
        tmp.write_text(text)
    return path


def write_json_atomic(path: str | Path, obj: Any, *, within: str | Path | None = None) -> Path:
    """Write ``obj`` as indented strict JSON (:func:`dumps_strict`), atomically."""
    return write_text_atomic(path, dumps_strict(obj) + "\n", within=within)


def strict_json(obj: Any) -> Any:
    """``obj`` with every non-finite number replaced, as strict JSON has no NaN or Infinity: NaN -> null,
    ±inf -> the strings "inf" / "-inf" (numpy scalars and arrays become Python numbers and lists first).
    Readers take them back (:func:`scalefit._schema.expect_number`)."""
    import math

    import numpy as np

    if isinstance(obj, np.ndarray):
        obj = obj.tolist()
    elif isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float):
        if math.isnan(obj):
            return None
        return obj if math.isfinite(obj) else ("inf" if obj > 0 else "-inf")
    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict_json(v) for v in obj]
    return obj


def dumps_strict(obj: Any, indent: int | None = 2) -> str:
    """``obj`` as strict JSON text (no NaN, no Infinity: :func:`strict_json`)."""
    return json.dumps(strict_json(obj), indent=indent, default=json_default, allow_nan=False)


def write_csv_atomic(path: str | Path, frame: Any, *, within: str | Path | None = None) -> Path:
    """Write a pandas DataFrame as CSV (no index), atomically."""
    return write_text_atomic(path, frame.to_csv(index=False), within=within)


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
