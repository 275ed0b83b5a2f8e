"""`import scalefit` must leave torch and matplotlib unimported (DESIGN.md)."""

import subprocess
import sys


def test_import_is_light():
    code = "import sys, scalefit, scalefit.cli.app; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def _imports(path):
    """Every module ``path`` imports, at its top or inside a function (``import a.b``, ``from a.b import c``)."""
    import ast

    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)


def test_results_never_import_plotting(tmp_path):
    """Plotting reads results; results do not import plotting (ARCHITECTURE.md). The one way from a result to
    its figure is ``ResultFile.plot`` -> ``scalefit.plotting.result.plot_result``, the dispatcher; only the CLI
    and plotting itself import plotting modules or matplotlib."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "scalefit"
    found = {}
    for path in root.rglob("*.py"):
        where = path.relative_to(root).as_posix()
        if where.startswith(("plotting/", "cli/")):
            continue
        drawn = sorted({m for m in _imports(path) if m.split(".")[0] == "matplotlib"
                        or m == "scalefit.plotting" or m.startswith("scalefit.plotting.")})
        if drawn:
            found[where] = drawn
    assert found == {"results.py": ["scalefit.plotting.result", "scalefit.plotting.result.plot_result"]}, found
    probe = tmp_path / "probe.py"  # the check sees a lazy import in a function, as the old LadderResult.plot's
    probe.write_text("def plot(self):\n    from scalefit.plotting.ladder import plot_ladder\n")
    assert "scalefit.plotting.ladder" in set(_imports(probe))
