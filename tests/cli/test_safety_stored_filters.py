"""Every stored filter passes the --where checker on load (issue 28): a ladder file's ``options.where`` and a
selection file's ``data.where`` and ``holdout``, like a fit file's ``data.where``; a good filter still loads."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest

from scalefit import results
from scalefit.errors import FitFileError
from scalefit.laws import get_law
from scalefit.laws.simulate import simulate
from tests.safety import refused

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
try:
    import bench_ladder
finally:
    sys.path.pop(0)

TRUE = {"E": 1.69, "A": 406.4, "B": 410.7, "alpha": 0.34, "beta": 0.28}
HOSTILE = [("@pd.io.common.os.system('touch pwned') == 0", "`@`"),
           ("__import__('os').system('touch pwned') == 0", "attribute access"),
           ("", "empty")]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """A ladder file and a selection file (as dicts), each fitted with a --where."""
    from scalefit.fitting.select import select
    from scalefit.planning.ladder import ladder

    runs, _ = bench_ladder.draw(0)
    lad = ladder(runs, loss_cols="bpb_*", acc_cols="acc_*", bootstrap=0, where="N > 0").to_dict()
    sim = simulate(get_law("chinchilla"), TRUE, n_points=30, noise=0.005, seed=0)
    sel = select(sim, ["chinchilla"], folds=2, fraction=0.1, where="N > 0").to_dict()
    return lad, sel


def _with(doc: dict, path: str, value) -> dict:
    doc = copy.deepcopy(doc)
    *parents, last = path.split(".")
    node = doc
    for key in parents:
        node = node[key]
    node[last] = value
    return doc


@pytest.mark.parametrize("which,field", [(0, "options.where"), (1, "data.where"), (1, "holdout")])
@pytest.mark.parametrize("payload,found", HOSTILE)
def test_a_hostile_stored_filter_is_refused_on_load(stored, which, field, payload, found):
    doc = _with(stored[which], field, payload)
    with pytest.raises(FitFileError) as err:
        results.from_dict(doc)
    text = str(err.value)
    assert field in text and found in text and "same checker as --where" in text and "\n" not in text


@pytest.mark.parametrize("which,field", [(0, "options.where"), (1, "data.where"), (1, "holdout")])
def test_a_good_or_absent_stored_filter_still_loads(stored, which, field):
    for value in ("N > 1e8 and D < 1e12", None):
        loaded = results.from_dict(_with(stored[which], field, value))
        assert loaded.to_dict()["options" if which == 0 else "data"] is not None


def test_the_cli_refuses_a_ladder_file_with_a_hostile_filter_in_one_line(stored, tmp_path):
    doc = _with(stored[0], "options.where", HOSTILE[0][0])
    (tmp_path / "ladder.json").write_text(json.dumps(doc))
    refused(["predict", "ladder.json", "--at", "N=1e9", "--at", "D=2e10"], tmp_path, contains="options.where")
    assert not (tmp_path / "pwned").exists()
