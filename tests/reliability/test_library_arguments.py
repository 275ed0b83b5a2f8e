"""The library refuses wrong argument types with a TypeError naming the argument, and out-of-range values with a
ValueError, both ScalefitErrors with the message the CLI prints (issue 28: internal errors, silent results)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import scalefit
from scalefit.errors import ArgumentTypeError, PlanInputError, RunDataError, ScalefitError


@pytest.mark.parametrize("kwargs,name", [
    ({"bootstrap": 1.5}, "bootstrap"),
    ({"bootstrap": "10"}, "bootstrap"),
    ({"seed": "x"}, "seed"),
    ({"seed": 0.5}, "seed"),
    ({"params": [1, 2]}, "params"),
    ({"fix": [1]}, "fix"),
    ({"mapping": "N=x"}, "mapping"),
    ({"law_options": "n=3"}, "law_options"),
])
def test_wrong_types_are_type_errors_naming_the_argument(frame, kwargs, name):
    with pytest.raises(ArgumentTypeError, match=rf"^{name} must be") as info:
        scalefit.fit("chinchilla", frame, calibrate=False, **kwargs)
    assert isinstance(info.value, TypeError) and isinstance(info.value, ScalefitError)


@pytest.mark.parametrize("law,data,name", [(None, "frame", "law"), (3, "frame", "law"), ("chinchilla", None, "data"),
                                           ("chinchilla", 5, "data")])
def test_wrong_law_or_data_type(frame, law, data, name):
    with pytest.raises(ArgumentTypeError, match=rf"^{name} must be"):
        scalefit.fit(law, frame if data == "frame" else data)


def test_negative_seed_is_a_value_error_before_any_work(frame):
    with pytest.raises(ValueError, match=r"^seed -1: must be a whole number from 0 to 2\*\*63 - 1"):
        scalefit.fit("chinchilla", frame, bootstrap=5, seed=-1)
    with pytest.raises(ValueError, match=r"^bootstrap -2"):
        scalefit.fit("chinchilla", frame, bootstrap=-2)


@pytest.mark.parametrize("where", ["", "   ", "\t"])
def test_empty_where_is_refused_like_the_checker(frame, where):
    with pytest.raises(RunDataError, match="non-empty string"):
        scalefit.fit("chinchilla", frame, where=where, calibrate=False)


def test_mapping_of_an_unknown_symbol_lists_the_laws_symbols(frame):
    with pytest.raises(RunDataError, match=r"'n' is not a symbol of law 'chinchilla'; the symbols are \['N', 'D'"):
        scalefit.fit("chinchilla", frame, mapping={"n": "n_params"}, calibrate=False)
    # a symbol the inputs are derived from, or one the filter names, is a symbol the fit uses
    res = scalefit.fit("chinchilla", frame, mapping={"C": "flops"}, calibrate=False)
    assert np.isfinite(list(res.params.values())).all()


@pytest.mark.parametrize("points,err,match", [
    (None, ArgumentTypeError, "^inputs must be a dict"),
    ([1, 2], ArgumentTypeError, "^inputs must be a dict"),
    ({"N": "abc", "D": 1e10}, ArgumentTypeError, r"^inputs\['N'\] must be a number"),
    ({"N": [[1e9]], "D": 1e10}, ArgumentTypeError, "flat list"),
    ({"N": [1e9, 2e9], "D": [1e10, 2e10, 3e10]}, RunDataError, "different lengths"),
])
def test_predict_refuses_malformed_points(fitted, points, err, match):
    with pytest.raises(err, match=match):
        fitted.predict(points)


def test_derived_refuses_a_non_positive_budget_like_the_cli(fitted):
    for bad in (-1, 0, float("nan"), float("inf")):
        with pytest.raises(PlanInputError, match="must be > 0"):
            fitted.derived("N_opt", C=bad)
    assert fitted.derived("N_opt", C=1e24) > 0


def test_derived_says_how_far_beyond_the_data_it_goes(fitted):
    from scalefit.errors import ExtrapolationWarning
    from scalefit.planning.allocation import compute_optimal

    lo, hi = fitted.data["ranges"]["N"]
    with pytest.warns(ExtrapolationWarning, match=r"N_opt: .*N = .* decades beyond the fitted N range"):
        far = fitted.derived("N_opt", C=1e30)
    assert far > hi
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExtrapolationWarning)
        budgets = np.geomspace(1e10, 1e30, 201)
        inside = budgets[(fitted.derived("N_opt", C=budgets) > lo) & (fitted.derived("N_opt", C=budgets) < hi)]
    assert inside.size
    with warnings.catch_warnings():
        warnings.simplefilter("error", ExtrapolationWarning)  # an N_opt inside the fitted N range: no warning
        assert lo < fitted.derived("N_opt", C=inside[0]) < hi
    # one budget as a plain number, as well as a list
    assert compute_optimal(fitted, 1e21)[0]["N_opt"] == compute_optimal(fitted, [1e21])[0]["N_opt"]


def test_predict_repeats_a_single_value(fitted):
    both = fitted.predict({"N": [1e9, 2e9], "D": 1e10})
    assert both.shape == (2,) and both[0] == fitted.predict({"N": 1e9, "D": 1e10})[0]
