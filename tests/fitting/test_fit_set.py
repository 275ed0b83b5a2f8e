"""FitSet: a grouped or multi-target fit is a read-only mapping of FitResults with the shared result surface;
its file round-trips, and the grouped fit files written before FitSet (schema scalefit.fit/1 with ``groups``)
still load, as a FitSet."""

import html
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import FitError, FitFileError
from scalefit.fitting.fit_set import FitSet, member
from scalefit.fitting.result import FitResult

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def runs():
    n, d = np.repeat([1e7, 3e7, 1e8, 3e8], 4), np.tile([1e9, 3e9, 1e10, 3e10], 4)
    frame = pd.DataFrame({"N": n, "D": d, "g": np.tile(["a", "b"], 8)})
    frame["loss"] = (1.7 + 400 / n**0.34 + 410 / d**0.28) * np.exp(np.random.default_rng(1).normal(0, 0.01, 16))
    frame.loc[frame.g == "b", "loss"] *= 1.2
    frame["loss2"] = frame["loss"] * 1.1
    return frame


@pytest.fixture(scope="module")
def grouped(runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit("power", runs, group_by="g", law_options={"x": "N"}, calibrate=False)


@pytest.fixture(scope="module")
def targets(runs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return scalefit.fit("power", runs, target=["loss2", "loss"], law_options={"x": "N"}, calibrate=False)


def test_grouped_fit_is_a_mapping_of_single_fits(grouped, runs):
    assert isinstance(grouped, FitSet) and grouped.by == "g" and grouped.targets is None
    assert list(grouped) == ["a", "b"] and len(grouped) == 2 and "a" in grouped and "c" not in grouped
    a = grouped["a"]
    assert isinstance(a, FitResult) and not hasattr(a, "groups") and not hasattr(a, "select")
    assert a.data["n_rows"] == 8 and grouped.data["n_rows"] == 16 and grouped.law == "power"
    assert grouped["b"].params["E"] > a.params["E"]  # group b's losses are 20% higher
    with pytest.raises(FitError, match=r"no group 'c' in this fit; groups are \['a', 'b'\]"):
        grouped["c"]
    with pytest.raises(TypeError):
        grouped.fits["c"] = a  # read-only


def test_predict_per_member_and_all(grouped):
    at = {"N": [5e7, 2e8]}
    one = grouped.predict(at, key="b")
    assert np.allclose(one, grouped["b"].predict(at)) and one.shape == (2,)
    every = grouped.predict(at)
    assert set(every) == {"a", "b"} and np.allclose(every["a"], grouped["a"].predict(at))
    assert not np.allclose(every["a"], every["b"])
    with pytest.raises(FitError, match="no group 'z'"):
        grouped.predict(at, key="z")


def test_report_repr_html(grouped, targets):
    text = grouped.report()
    assert text.startswith("power fitted per 'g' (2 groups)") and "== g = a ==" in text and "== g = b ==" in text
    assert str(grouped) == text and html.unescape(grouped._repr_html_()) == f"<pre>{text}</pre>"
    assert repr(grouped) == "FitSet('power', by='g', keys=['a', 'b'])"
    assert repr(targets) == "FitSet('power', targets=['loss2', 'loss'])"
    assert targets.report().startswith("power fitted to 2 targets: loss2, loss")
    assert "FitResult('power'," in repr(grouped["a"]) and "\n" not in repr(grouped["a"])


def test_multi_target_keys_in_target_order(targets, runs):
    assert targets.by == "target" and targets.targets == ("loss2", "loss") and list(targets) == ["loss2", "loss"]
    assert targets["loss2"].spec.target == "loss2" and targets.spec.target is None
    assert targets["loss2"].data["provenance"]["L"] == "column 'loss2'" and targets["loss"].stats["n"] == 16
    ratio = targets.predict({"N": 1e8}, key="loss2") / targets.predict({"N": 1e8}, key="loss")
    assert 1.05 < ratio[0] < 1.15  # loss2 = 1.1 loss
    with pytest.raises(FitError, match=r"no target 'x' in this fit; targets are \['loss2', 'loss'\]"):
        targets["x"]


def test_member_picks_one_fit(grouped, targets):
    assert member(grouped, "a") is grouped["a"] and member(grouped["a"]) is grouped["a"]
    with pytest.raises(FitError, match="grouped by 'g'; say which group: one of"):
        member(grouped)
    with pytest.raises(FitError, match="one law per target; say which target"):
        member(targets)


@pytest.mark.parametrize("which", ["grouped", "targets"])
def test_file_round_trip(which, request, tmp_path):
    fits = request.getfixturevalue(which)
    path = fits.save(tmp_path / "fits.json")
    d = json.loads(path.read_text())
    assert d["schema"] == "scalefit.fitset/1" and "params" not in d and set(d["groups"]) == set(fits)
    back = scalefit.load(path)
    assert isinstance(back, FitSet) and back == fits and list(back) == list(fits) and back.spec == fits.spec
    assert FitResult.load(path) == fits  # the fit loader reads either kind


@pytest.mark.parametrize(("name", "by", "keys", "targets"), [
    ("grouped_fit_before_fitset.json", "g", ["a", "b"], None),
    ("targets_fit_before_fitset.json", "target", ["loss", "loss2"], ("loss", "loss2")),
])
def test_files_written_before_fitset_load_as_a_fit_set(name, by, keys, targets):
    """Written by scalefit 4361bb9 (a FitResult with ``groups``, empty ``params``)."""
    stored = json.loads((DATA / name).read_text())
    assert stored["schema"] == "scalefit.fit/1" and stored["params"] == {} and stored["groups"]
    fits = scalefit.load(DATA / name)
    assert isinstance(fits, FitSet) and fits.by == by and list(fits) == keys and fits.targets == targets
    for key in keys:
        assert fits[key].params == stored["groups"][key]["params"]
        assert fits[key].predict({"N": 1e8, "D": 5e9})[0] > 0
    assert fits.spec is not None and fits.data["source"] == stored["data"]["source"]
    again = FitSet.from_dict(fits.to_dict())
    assert again == fits  # and it saves in the new form


def test_bad_fit_set_files_name_the_field(grouped):
    d = grouped.to_dict()
    with pytest.raises(FitFileError, match="targets"):
        FitSet.from_dict({**d, "targets": ["a", "zz"]})
    with pytest.raises(FitFileError, match="group_by"):
        FitSet.from_dict({**d, "group_by": 3})
    with pytest.raises(FitFileError, match=r"groups\.a\.params\.alpha"):
        FitSet.from_dict({**d, "groups": {"a": {**d["groups"]["a"], "params": {**d["groups"]["a"]["params"],
                                                                                  "alpha": "x"}}}})
    with pytest.raises(FitFileError, match="single fits"):
        FitSet.from_dict({**d, "groups": {"a": d}})
    with pytest.raises(FitFileError, match="unknown field"):
        FitSet.from_dict({**d, "params": {}})
    with pytest.raises(FitFileError, match=r"groups: every fit of the set is of its law 'chinchilla'; got \['power'\]"):
        FitSet.from_dict({**d, "law": "chinchilla"})
