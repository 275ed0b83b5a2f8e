"""Learning-rate schedules: pure functions of the step."""

from __future__ import annotations

import pytest

from scalefit.schedules import lr_multiplier


def lr(step, schedule, total=100, warmup=10, decay=20, min_ratio=0.1):
    return lr_multiplier(step, total=total, schedule=schedule, warmup=warmup, min_ratio=min_ratio, decay=decay)


@pytest.mark.parametrize("schedule", ["cosine", "linear", "constant", "wsd"])
def test_warmup_is_linear_to_peak(schedule):
    assert [lr(s, schedule) for s in range(10)] == pytest.approx([(s + 1) / 10 for s in range(10)])
    assert lr(10, schedule) == pytest.approx(1.0)


def test_shapes_after_warmup():
    assert lr(99, "cosine") == pytest.approx(0.1)
    assert lr(10 + 89 / 2, "cosine") == pytest.approx(0.55)  # half-way down the half cosine
    assert lr(99, "linear") == pytest.approx(0.1)
    assert lr(10 + 89 / 2, "linear") == pytest.approx(0.55)
    assert lr(99, "constant") == 1.0
    assert [lr(s, "wsd") for s in (10, 50, 79)] == [1.0, 1.0, 1.0]  # stable until the last 20 steps
    assert lr(80, "wsd") < 1.0
    assert lr(99, "wsd") == pytest.approx(0.1)
    assert 0.1 < lr(90, "wsd") < 1.0
    assert all(lr(s, "cosine") >= lr(s + 1, "cosine") for s in range(10, 99))


def test_no_warmup_starts_at_peak():
    assert lr(0, "cosine", warmup=0) == 1.0
    assert lr(0, "wsd", warmup=0, decay=0) == 1.0


def test_wsd_one_minus_sqrt_cooldown_and_decay_to_zero():
    def sq(step, **kw):
        return lr_multiplier(step, total=100, schedule="wsd", warmup=10, decay=20, cooldown="1-sqrt", **kw)

    assert [sq(s) for s in (10, 50, 79)] == [1.0, 1.0, 1.0]
    assert sq(99) == pytest.approx(0.1) and sq(99, min_ratio=0.0) == 0.0
    # 1 - sqrt(p) of the way down: a quarter of the cooldown already goes half of the way
    quarter = 79 + 20 * 0.25
    assert sq(quarter) == pytest.approx(1 - 0.9 * 0.5) and lr(quarter, "wsd") == pytest.approx(1 - 0.9 * 0.25)
    assert all(sq(s) <= lr(s, "wsd") for s in range(80, 100))  # below the linear cooldown throughout
    assert all(sq(s) >= sq(s + 1) for s in range(80, 99))
