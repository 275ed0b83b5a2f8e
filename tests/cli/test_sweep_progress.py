"""The sweep progress display: counts, current loss and ETA, on a terminal (rich) or as log lines."""

from __future__ import annotations

import pytest

from scalefit.cli.sweep_progress import SweepProgress
from scalefit.sweeps.runner import SweepEvent
from scalefit.sweeps.spec import expand, parse_spec

FIXED = {"corpus": "pydoc", "seq_len": 32, "batch_size": 4, "n_heads": 2, "tokens": 1024}


def _runs():
    return expand(parse_spec({"fixed": FIXED, "grid": {"shape": [[16, 1]], "lr": [1e-3, 2e-3, 3e-3]}}))


def _feed(show: SweepProgress) -> None:
    a, b, c = _runs()
    show(SweepEvent("plan", data={"planned": 4, "skipped": 1, "todo": 3, "estimate_s": 30.0}))
    show(SweepEvent("start", a, estimate_s=10.0))
    show(SweepEvent("log", a, {"step": 5, "loss": 2.5}, estimate_s=10.0))
    assert "step 5 loss 2.500" in show.line()
    show(SweepEvent("done", a, {"status": "ok", "loss": 2.4, "wall_s": 3.0}, estimate_s=10.0))
    show(SweepEvent("done", b, {"status": "diverged", "loss": None, "message": "training loss nan"}, estimate_s=10.0))
    show(SweepEvent("done", c, {"status": "failed", "message": "ConfigError: boom"}, estimate_s=10.0))
    show(SweepEvent("end", data={"counts": {}, "executed": 3}))


@pytest.mark.parametrize("live", [False, True])
def test_progress_counts_loss_and_eta(capsys, live):
    show = SweepProgress("t", workers=2, live=live)
    _feed(show)
    assert (show.done, show.diverged, show.failed) == (1, 1, 1)
    assert show.line().startswith("t: 1 ok, 1 diverged, 1 failed, 0 left, ETA 0 s")
    err = capsys.readouterr().err
    assert "4 runs planned, 1 already finished, 3 to run" in err
    if not live:
        assert "[1/3]" in err and "[3/3]" in err and "ConfigError: boom" in err and "training loss nan" in err


def test_eta_scales_remaining_estimates_by_observed_speed():
    show = SweepProgress("t", workers=1, live=False)
    show.est_left, show.est_done = 100.0, 50.0
    show.t0 -= 25.0  # the finished half of the estimate took half as long as estimated
    assert show.eta() == pytest.approx(50.0, rel=0.05)
