"""The README's numbers are the code's: every quoted figure is recomputed by benchmarks/readme_numbers.py.

A failure prints the sentence as the current code would write it; `python benchmarks/readme_numbers.py
--write` puts it in the README.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import readme_numbers  # noqa: E402


@pytest.fixture(scope="module")
def rendered():
    return readme_numbers.render()


def test_every_quoted_number_matches_the_code(rendered):
    text = readme_numbers.README.read_text()
    stale = [sentence for _, sentence in rendered if sentence not in text]
    assert not stale, "README numbers differ from the code; run `python benchmarks/readme_numbers.py --write`:\n" + \
        "\n".join(stale)


def test_every_template_finds_its_sentence_shape():
    text = readme_numbers.README.read_text()
    for _, templates in readme_numbers.FACTS:  # the templates alone: no need to compute the numbers again
        for template in templates:
            assert readme_numbers.pattern(template).search(text), template


def test_the_quickstart_writes_only_ignored_paths():
    import shlex
    import shutil
    import subprocess

    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    quick = readme_numbers.README.read_text().split("```bash")[1].split("```")[0]
    words = shlex.split(quick)
    outs = [words[i + 1] for i, w in enumerate(words) if w in ("--out", "--output")]
    assert outs, "the quickstart writes nothing?"
    for out in outs:
        ignored = subprocess.run(["git", "check-ignore", "-q", out], cwd=REPO).returncode == 0
        assert ignored, f"the quickstart writes {out}, which git tracks or would show as new"


def test_ci_runs_exactly_the_readme_test_command():
    ci = (REPO / ".ci" / "run").read_text()
    blocks = readme_numbers.README.read_text().split("```bash")
    test_command = next(b.split("```")[0].strip() for b in blocks if "pytest" in b.split("```")[0])
    assert test_command in ci.splitlines(), f".ci/run does not run the README's test command: {test_command}"
