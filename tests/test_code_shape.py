"""The package stays readable: modules of at most 350 lines, functions of at most 60 (ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "scalefit"
MAX_MODULE, MAX_FUNCTION = 350, 60


def _modules():
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_over_the_limit():
    long = [f"{p.relative_to(PACKAGE.parent)} ({n} lines)" for p in _modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE]
    assert not long, f"modules over {MAX_MODULE} lines: {long}"


def test_no_function_over_the_limit():
    long = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION:
                    long.append(f"{p.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({n} lines)")
    assert not long, f"functions over {MAX_FUNCTION} lines: {long}"


def test_no_private_names_cross_packages():
    """What a module keeps private (a leading underscore) is used only inside its own package."""
    crossings = []
    for p in _modules():
        package = p.relative_to(PACKAGE).parts[0]
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("scalefit."):
                parts = node.module.split(".")
                owner = parts[1]
                private_module = any(part.startswith("_") and not part.startswith("__") for part in parts[1:])
                private_names = [a.name for a in node.names if a.name.startswith("_") and a.name != "__version__"]
                if owner != package and owner not in ("_io", "_schema", "_frozen", "_lazy") and (
                        private_module or private_names):
                    crossings.append(f"{p.relative_to(PACKAGE.parent)}: from {node.module} import "
                                     f"{', '.join(a.name for a in node.names)}")
            if isinstance(node, ast.Attribute) and node.attr in ("_single", "_warn_extrapolation"):
                crossings.append(f"{p.relative_to(PACKAGE.parent)}:{node.lineno} .{node.attr}")
    assert not crossings, crossings
