"""`import scalefit` must leave torch and matplotlib unimported (DESIGN.md)."""

import subprocess
import sys


def test_import_is_light():
    code = "import sys, scalefit, scalefit.cli.app; print('torch' in sys.modules, 'matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]
