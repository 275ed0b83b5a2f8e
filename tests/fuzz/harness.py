"""The contract every fuzzed command keeps (issue 28).

:func:`check_cli` runs ``scalefit ARGS`` in-process (Typer's CliRunner) in a fresh work folder inside a fresh
root folder and asserts: exit 0 with finite output (``--json`` on stdout and the JSON/CSV files it wrote hold no
NaN or infinity), or exit 1 with exactly one line on stderr, an ``error:`` line (or a usage error, exit 2, for a
value click itself cannot parse); never a traceback or an "internal error"; no raw numpy warning on stderr; the
input files byte-identical afterwards; nothing new outside the work folder, and inside it only the outputs the
command was asked to write.
"""

from __future__ import annotations

import json
import math
import os
import re
import tempfile
from contextlib import contextmanager
from pathlib import Path

from typer.testing import CliRunner

from scalefit.cli.app import app
from tests.safety import snapshot

RAW_NUMPY = re.compile(r"encountered in|All-NaN slice|Mean of empty slice|Degrees of freedom <= 0|"
                       r"invalid value|divide by zero|overflow encountered|RuntimeWarning")
NOT_FINITE = re.compile(r"(?<![A-Za-z_])(nan|NaN|inf|Infinity|-inf)(?![A-Za-z_])")


@contextmanager
def sandbox():
    """(root, work): a fresh root folder holding the work folder a command runs in."""
    with tempfile.TemporaryDirectory(prefix="scalefit-fuzz-") as root:
        work = Path(root) / "work"
        work.mkdir()
        yield Path(root), work


def strict_finite_json(text: str, where: str) -> object:
    """Parse ``text`` as strict JSON (no NaN/Infinity) and assert every number in it is finite."""
    def refuse(token):
        raise AssertionError(f"{where}: non-strict JSON constant {token}")

    obj = json.loads(text, parse_constant=refuse)
    stack = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
        elif isinstance(node, float):
            assert math.isfinite(node), f"{where}: non-finite number {node}"
    return obj


def check_cli(args: list[str], work: Path, root: Path, **kwargs):
    """Run ``scalefit ARGS`` in ``work`` and assert the contract (:func:`_check_cli`); returns the CliRunner result.

    With ``SCALEFIT_FUZZ_LOG=FILE`` every violation is also appended to FILE as it happens (before Hypothesis
    shrinks it), so a long run stopped by a time limit still leaves what it found."""
    try:
        return _check_cli(args, work, root, **kwargs)
    except AssertionError as exc:
        log = os.environ.get("SCALEFIT_FUZZ_LOG")
        if log:
            with open(log, "a") as fh:
                fh.write(f"{exc}\n{'-' * 80}\n")
        raise


def _check_cli(args: list[str], work: Path, root: Path, *, outputs: tuple[str, ...] = (), finite_stdout: bool = True,
               allow_usage: bool = True):
    before_root = snapshot(root)
    cwd = Path.cwd()
    os.chdir(work)
    try:
        res = CliRunner().invoke(app, [str(a) for a in args])
    finally:
        os.chdir(cwd)
    shown = f"scalefit {' '.join(map(repr, args))}\nexit {res.exit_code}\nstdout: {res.stdout[-2000:]}\n" \
            f"stderr: {res.stderr[-2000:]}"
    assert res.exception is None or isinstance(res.exception, SystemExit), f"{shown}\n{res.exception!r}"
    text = res.stdout + res.stderr
    assert "Traceback" not in text and "internal error" not in text, shown
    assert not RAW_NUMPY.search(res.stderr), f"raw numpy warning leaked\n{shown}"
    if res.exit_code == 2 and allow_usage and "Usage:" in res.stderr:
        pass  # click could not parse an option's value (documented: usage errors exit 2)
    elif res.exit_code == 1:
        lines = res.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), f"expected one error line\n{shown}"
    else:
        assert res.exit_code == 0, shown
        if finite_stdout and "--json" in args:
            strict_finite_json(res.stdout, "stdout")
        elif finite_stdout:
            assert not NOT_FINITE.search(res.stdout), f"non-finite value printed\n{shown}"
        for name in outputs:
            path = work / name
            if path.suffix == ".json" and path.is_file():
                strict_finite_json(path.read_text(), name)
            elif path.suffix == ".csv" and path.is_file():
                assert not NOT_FINITE.search(path.read_text()), f"{name}: non-finite value written\n{shown}"
    after_root = snapshot(root)
    changed = [k for k in before_root if after_root.get(k) != before_root[k]
               and k.removeprefix("work/") not in outputs]
    assert not changed, f"inputs changed: {changed}\n{shown}"
    new = [k for k in after_root if k not in before_root]
    stray = [k for k in new if not k.startswith("work/") or k.removeprefix("work/") not in outputs]
    assert not stray, f"files written that were not asked for: {stray}\n{shown}"
    return res
