"""The checked factory options: numbers, whole counts, flags, as they arrive from Python, JSON and --opt."""

from __future__ import annotations

import math

import pytest

from scalefit.errors import LawError
from scalefit.laws import get_law
from scalefit.laws.factory_options import as_number, bool_option, int_option


@pytest.mark.parametrize(("value", "number"), [(3, 3.0), (3.5, 3.5), ("1e8", 1e8), (" 2 ", 2.0), ("inf", math.inf)])
def test_numbers_in_every_spelling(value, number):
    assert as_number(value) == number


@pytest.mark.parametrize("value", [True, False, None, "three", [1], {"a": 1}, ""])
def test_anything_else_is_nan_so_the_range_check_refuses_it(value):
    assert math.isnan(as_number(value))


def test_int_and_bool_options():
    assert int_option("x", "n", "3", 1, 5) == 3 and int_option("x", "n", 3.0, 1, 5) == 3
    for bad in (True, 3.5, "3.5", 9, "x"):
        with pytest.raises(LawError, match="whole number from 1 to 5"):
            int_option("x", "n", bad, 1, 5)
    assert bool_option("x", "f", "on") is True and bool_option("x", "f", 0) is False


@pytest.mark.parametrize(("law", "options", "message"), [
    ("nmt", {"Ne_ref": True}, "positive number of parameters"),
    ("nmt", {"Nd_ref": "-1"}, "positive number of parameters"),
    ("downstream-acc-sigmoid", {"chance": "1.5"}, "number from 0 to 1"),
    ("downstream-acc-sigmoid", {"chance": True}, "number from 0 to 1"),
    ("downstream-err-exp", {"l_ref": "nan"}, "finite loss"),
])
def test_law_options_use_the_shared_number_check(law, options, message):
    with pytest.raises(LawError, match=message):
        get_law(law, **options)


def test_a_number_given_as_text_is_stored_as_a_number():
    assert get_law("nmt", Ne_ref="2e8").options["Ne_ref"] == 2e8
