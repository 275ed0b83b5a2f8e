"""Lin et al. 2024 rectified fine-tuning law: the two phases, derived quantities, 1%-noise recovery."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.laws import get_law
from tests.laws.recovery import assert_recovers

TRUE = {"B": 300.0, "D_l": 100.0, "beta": 0.5, "E": 1.0}


def test_pre_power_and_power_phases():
    law = get_law("rectified")
    d = np.geomspace(1.0, 1e9, 200)
    y = law({"D": d}, TRUE)
    slope = np.gradient(np.log(y - TRUE["E"]), np.log(d))
    assert abs(slope[0]) < 0.01  # flat while D^beta << D_l (pre-power phase)
    assert slope[-1] == pytest.approx(-TRUE["beta"], rel=0.005)  # power law once D^beta >> D_l
    vanilla = law({"D": d}, {**TRUE, "D_l": 0.0})
    np.testing.assert_allclose(vanilla, TRUE["B"] * d ** -TRUE["beta"] + TRUE["E"], rtol=1e-12)


def test_derived_transition_and_pretrained_loss():
    law = get_law("rectified")
    assert law.derived["D_transition"].fn(TRUE) == pytest.approx(1e4)
    assert law.derived["loss_pretrained"].fn(TRUE) == pytest.approx(4.0)
    assert law({"D": 1e-30}, TRUE) == pytest.approx(4.0)


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_at_one_percent_noise(seed):
    rtol = {"B": 0.15, "D_l": 0.2, "beta": 0.03, "E": 0.015}
    assert_recovers(get_law("rectified"), TRUE, {"D": (1e2, 1e7)}, rtol, seed=seed)
