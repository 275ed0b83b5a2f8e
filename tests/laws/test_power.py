"""The one-symbol power law: the symbol option, its errors, and the inverse x_at_loss."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import scalefit
from scalefit.errors import LawError
from scalefit.laws import get_law
from scalefit.laws.power import x_at_loss


def test_symbol_option_sets_input_and_options():
    assert get_law("power").inputs == ("C",)
    law = get_law("power", x="N")
    assert law.inputs == ("N",) and law.options == {"x": "N"} and law.name == "power"
    assert "x = N" in law.description


@pytest.mark.parametrize("x", ["L", "E", "alpha", "1abc", "", "n params", 3, None, "lambda"])
def test_bad_symbol_is_a_law_error(x):
    with pytest.raises(LawError, match="law 'power'"):
        get_law("power", x=x)


def test_x_at_loss_inverts_the_law():
    law = get_law("power", x="D")
    p = {"E": 1.8, "A": 400.0, "alpha": 0.3}
    L = np.array([2.0, 2.5, 3.5])
    D = x_at_loss(p, L)
    np.testing.assert_allclose(law({"D": D}, p), L, rtol=1e-12)
    assert np.isnan(x_at_loss(p, 1.7)) and np.isnan(x_at_loss(p, 1.8))


def test_fits_any_symbol_through_aliases_or_exact_columns():
    rng = np.random.default_rng(0)
    toks = np.geomspace(1e8, 1e12, 40)
    p = {"E": 1.8, "A": 400.0, "alpha": 0.3}
    loss = get_law("power", x="D")({"D": toks}, p) * (1 + 0.002 * rng.standard_normal(40))
    runs = pd.DataFrame({"n_tokens": toks, "tokens_seen": toks, "loss": loss})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        by_alias = scalefit.fit("power", runs, law_options={"x": "D"})
        by_name = scalefit.fit("power", runs, law_options={"x": "tokens_seen"})
    assert by_alias.data["provenance"]["D"] == "column 'n_tokens'"
    for k in p:
        assert by_alias.params[k] == pytest.approx(by_name.params[k], rel=1e-6)
        assert by_alias.params[k] == pytest.approx(p[k], rel=0.05)
