"""benchmarks/width_transfer_defaults.py's analysis of issue 23's acceptance, on synthetic runs with the spec's own
run ids: a muP whose optimum stays put passes every check (and SP, whose optimum moves as 1/width, does not
transfer); a muP whose optimum drifts with width fails the argmin and slope checks."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import width_transfer_defaults

    yield width_transfer_defaults
    for name in ("width_transfer_defaults", "bench_width_transfer", "mup_init_transfer", "readme_numbers"):
        sys.modules.pop(name, None)


def _runs(bench, mup_drift: float) -> pd.DataFrame:
    """Every run of the spec, its loss a parabola in log2 lr around an optimum: muP's at 2^-6 x width^mup_drift,
    SP's at the presets' per-width rule; best loss falling with width, SP's init 0.04 the best."""
    from scalefit.proxy.config import init_std_of
    from scalefit.sweeps.spec import expand

    rows = []
    for run in expand(bench.spec()):
        c, init = run.config, init_std_of(run.config)
        doublings = math.log2(c.width / 32)
        if c.parametrization == "mup":
            opt, floor = -6 + mup_drift * doublings, 1.9 - 0.08 * doublings
        else:
            opt, floor = -7 - doublings, 1.9 - 0.07 * doublings + 0.03 * math.log2(init / 0.04) ** 2
        loss = floor + 0.05 * (math.log2(c.lr) - opt) ** 2 + 0.001 * c.seed
        rows.append({"run_id": run.run_id, "parametrization": c.parametrization, "width": c.width, "lr": c.lr,
                     "seed": c.seed, "init_std": init,
                     "mup_attention": c.mup_attention, "loss": loss, "status": "ok", "wall_s": 10.0})
    return pd.DataFrame(rows)


@pytest.mark.parametrize("drift", [0.0, -0.5])
def test_the_acceptance_checks_hold_for_a_transferring_mup_only(bench, monkeypatch, drift):
    import bench_width_transfer

    runs = _runs(bench, drift)
    monkeypatch.setattr(bench_width_transfer, "read_runs", lambda out, keys: runs)
    result = bench.analyse(Path("unused"))
    checks = result["checks"]
    assert result["runs"] == len(runs) == 108
    assert set(result["table"]) == {"mup", "sp 0.5x", "sp 1x", "sp 2x"} and set(result["table"]["sp 2x"]) == {
        "128", "256"}
    assert checks["loss_falls"] and checks["sp_does_not"] and checks["sp_default_within_128"]
    assert result["fit"]["sp"]["slope"] == pytest.approx(-1.0, abs=0.05)
    text = bench.table(result)
    assert text.count("\n| ") == 5 and "\n| 512 | " in text and "sp: fit lr-transfer slope" in text
    assert ("\nmet: mup_transfers" in text) == (drift == 0.0) and ("NOT met: mup_transfers" in text) == (drift != 0)
    if drift == 0.0:
        assert checks["mup_argmins"] == ["2^-6"] * 5 and checks["same_argmin"] and checks["slope_within"]
        assert checks["mup_transfers"] and all(checks["same_argmin_each_seed"].values())
        assert checks["within_margin_128_256"]
    else:  # the optimum halves every 2 doublings: 2^-6 at width 32, 2^-8 at 512
        assert not checks["same_argmin"] and not checks["mup_transfers"]
        assert result["fit"]["mup"]["slope"] == pytest.approx(-0.5, abs=0.15)
