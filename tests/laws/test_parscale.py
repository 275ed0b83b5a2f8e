"""Chen et al. 2025 parallel scaling law: the demo's equivalent sizes follow from one k, 1%-noise recovery."""

from __future__ import annotations

import numpy as np
import pytest

from scalefit.laws import get_law
from scalefit.laws import parscale as ps
from tests.laws.recovery import assert_recovers

TRUE = {"A": 9.8e6, "k": 0.39, "alpha": 0.15, "E": 0.8}
RANGES = {"N": (1e8, 1e10), "P": (1.0, 8.0)}


def test_the_published_equivalent_sizes_follow_from_one_k():
    # The authors' demo (huggingface.co/spaces/ParScale/Parallel_Scaling_Law): a 2.8B model with P = 4 streams
    # is equivalent to a 4.33B model with P = 1, a 3.4B model with P = 2 and a 2.38B model with P = 8.
    # The first fixes k; the law then has to give the other two.
    k = (4.33 / 2.8 - 1.0) / np.log(4.0)
    p = {**TRUE, "k": k}
    law = get_law("parscale")
    reference = law({"N": 2.8e9, "P": 4.0}, p)
    assert ps.n_equivalent(p, 2.8e9, 4.0) == pytest.approx(4.33e9)
    for streams, size in [(1.0, 4.33e9), (2.0, 3.4e9), (8.0, 2.38e9)]:
        n_same = ps.n_equivalent(p, 2.8e9, 4.0) / (1.0 + k * np.log(streams))
        assert n_same == pytest.approx(size, abs=0.006e9)  # the demo rounds to 0.01B
        assert law({"N": n_same, "P": streams}, p) == pytest.approx(reference, rel=1e-12)
    assert k == pytest.approx(0.394, abs=0.001)


def test_streams_for_inverts_the_equivalent_size():
    p = TRUE
    target = ps.n_equivalent(p, 1.5e9, 6.0)
    assert ps.streams_for(p, 1.5e9, target) == pytest.approx(6.0)
    np.testing.assert_allclose(get_law("parscale")({"N": 1.5e9, "P": 1.0}, p),
                               get_law("chinchilla")({"N": 1.5e9, "D": 1.0}, {"E": 0.8, "A": TRUE["A"] ** 0.15,
                                                                               "alpha": 0.15, "B": 0.0, "beta": 1.0}))


@pytest.mark.parametrize("seed", [0, 1])
def test_recovers_at_one_percent_noise(seed):
    rtol = {"A": 0.5, "k": 0.4, "alpha": 0.3, "E": 0.15}
    assert_recovers(get_law("parscale"), TRUE, RANGES, rtol, seed=seed, n=200)
