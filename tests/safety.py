"""The check every adversarial CLI case makes: refused in one line, nothing run, nothing lost, nothing stray.

``refused(args, folder, ...)`` runs the command through Typer's CliRunner with ``folder`` as the working
directory and asserts: the exit code, exactly one line on stderr (an ``error:`` line, or the expected
warning), no traceback and no "internal error" (an unexpected exception is a bug, not a refusal), every
file that existed in ``folder`` byte-identical afterwards, no new file anywhere in ``folder`` except the
ones allowed, and no marker file (``pwned``) from an injection.
"""

from __future__ import annotations

import copy
import hashlib
import os
from pathlib import Path

from typer.testing import CliRunner

from scalefit.cli.app import app

MARKER = "pwned"


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file (and link target) under ``folder``."""
    out = {}
    for p in sorted(folder.rglob("*")):
        rel = str(p.relative_to(folder))
        if p.is_symlink():
            out[rel] = "link:" + os.readlink(p)
        elif p.is_file():
            out[rel] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out


def refused(args: list[str], folder: Path, *, contains: str = "", exit_code: int = 1,
            allow_new: tuple[str, ...] = ()) -> str:
    """Run ``scalefit ARGS`` in ``folder`` and assert it was refused cleanly; returns the stderr line."""
    before = snapshot(folder)
    cwd = Path.cwd()
    os.chdir(folder)
    try:
        res = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(cwd)
    after = snapshot(folder)
    everything = res.output + (res.stderr or "")
    assert res.exit_code == exit_code, f"exit {res.exit_code}: {everything}"
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in everything and "internal error" not in everything, everything
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {lines}"
    assert contains.lower() in lines[0].lower(), lines[0]
    assert not (folder / MARKER).exists(), "injected code ran"
    changed = [k for k in before if after.get(k) != before[k]]
    assert not changed, f"inputs changed: {changed}"
    new = [k for k in after if k not in before and k not in allow_new]
    assert not new, f"files created: {new}"
    return lines[0]


def edited(d: dict, path: str, value) -> dict:
    """A deep copy of ``d`` with the dotted ``path`` set to ``value`` (deleted when ``value`` is ``...``)."""
    out = copy.deepcopy(d)
    *head, last = path.split(".")
    node = out
    for key in head:
        node = node[key]
    if value is ...:
        del node[last]
    else:
        node[last] = value
    return out
