"""A sweep folder belongs to one spec and to one running sweep at a time.

- **Ownership.** ``sweep.json`` records the spec(s) whose runs the folder holds, each with its fingerprint
  (a hash of the set of its run ids, so an edit that changes no run, or only how runs execute, keeps it).
  The same spec resumes; a different one is refused unless ``add_runs`` is given, which adds its runs beside
  the existing ones (``runs.csv`` then holds the union; no row is ever removed).
- **Lock.** ``DIR/.lock`` is held with ``flock`` by the sweep running in the folder and holds its PID; a
  second sweep on the folder fails at once naming that PID. The kernel drops the lock when its process
  dies however it dies, so a lock left by a killed sweep is simply taken over. The file itself stays
  (removing it would let two sweeps lock different files). Platforms without ``fcntl`` get no lock.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from scalefit.errors import SweepError
from scalefit.sweeps.store import MANIFEST, read_manifest, spec_entry, write_manifest

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["LOCK", "claim", "folder_lock"]

LOCK = ".lock"
TABLES = ("runs.csv", "curves.csv")


@contextmanager
def folder_lock(sweep_dir: Path) -> Iterator[None]:
    """Hold ``sweep_dir/.lock`` for the block; SweepError naming the holder's PID when another sweep has it."""
    if fcntl is None:  # pragma: no cover
        yield
        return
    path = sweep_dir / LOCK
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)  # never truncate a file a symlink points to
    fd = os.open(path, flags, 0o666)  # not atomic_path: the lock lives on this very file
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
            raise SweepError(
                f"{sweep_dir} is in use by another sweep (pid {holder}); wait for it to finish or stop it, "
                "or use another --out"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def claim(sweep_dir: Path, *, source: str, toml: str, runs: list[dict[str, Any]], add_runs: bool) -> list[str]:
    """Record the spec in the folder's manifest (see the module doc); returns all the folder's run ids, in order."""
    ids = [r["run_id"] for r in runs]
    entry = spec_entry(source, toml, ids)
    if not (sweep_dir / MANIFEST).is_file():
        foreign = [t for t in TABLES if (sweep_dir / t).exists()]
        if foreign:
            raise SweepError(
                f"{sweep_dir} holds {foreign[0]} but no {MANIFEST}: it is not a sweep folder, and the sweep would "
                "overwrite that file; use another --out"
            )
        specs, rows = [entry], list(runs)
    else:
        manifest = read_manifest(sweep_dir)
        specs, rows = manifest["specs"], manifest["runs"]
        if all(s["fingerprint"] != entry["fingerprint"] for s in specs):
            if not add_runs:
                held = " + ".join(f"{s['source']} ({s['fingerprint']})" for s in specs)
                raise SweepError(
                    f"{sweep_dir} holds the runs of another spec: {held}; this spec ({source}, "
                    f"{entry['fingerprint']}) plans other runs. Use another --out, or --add-runs to add its runs "
                    "beside the existing ones (no row is removed)"
                )
            known = {r["run_id"] for r in rows}
            specs, rows = [*specs, entry], [*rows, *(r for r in runs if r["run_id"] not in known)]
        if {r["run_id"] for r in rows} <= set(ids):  # this spec plans every run of the folder (a grown grid):
            specs = [entry]  # it supersedes the specs before it
    write_manifest(sweep_dir, name=sweep_dir.name, specs=specs, runs=rows)
    return [r["run_id"] for r in rows]
