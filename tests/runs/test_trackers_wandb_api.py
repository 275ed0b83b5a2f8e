"""The W&B API reader's logic on a fake client (the live service cannot be reached here): full history from
scan_history (never the sampled run.history), back-off on rate limits, the Parquet cache of finished runs."""

from __future__ import annotations

import pytest

from scalefit.errors import TrackerError
from scalefit.runs.trackers.parts import assemble
from scalefit.runs.trackers.wandb_api import backoff, read_parts


class RateLimited(Exception):
    def __init__(self) -> None:
        super().__init__("429 Too Many Requests")


class FakeRun:
    def __init__(self, rid: str, n: int, state: str = "finished", fail: int = 0) -> None:
        self.id, self.name, self.state, self.group = rid, f"name-{rid}", state, "sweep"
        self.config = {"lr": 0.01, "name": rid, "_wandb": {"x": 1}}
        self.created_at, self.updated_at = "2026-01-01T00:00:00Z", "2026-01-02T00:00:00Z"
        self.n, self.fail, self.scans = n, fail, 0

    def history(self, *a, **k):  # the 500-point sample: must never be called
        raise AssertionError("run.history() samples; scan_history must be used")

    def scan_history(self, page_size: int = 1000):
        self.scans += 1
        if self.fail:
            self.fail -= 1
            raise RateLimited()
        return iter([{"_step": s, "loss": 3.0 - s / self.n, "_runtime": s * 0.5} for s in range(self.n)])


class FakeApi:
    def __init__(self, runs: list[FakeRun], fail: int = 0) -> None:
        self._runs, self.fail, self.calls = runs, fail, 0

    def runs(self, path: str):
        self.calls += 1
        if self.fail:
            self.fail -= 1
            raise RateLimited()
        assert path == "ent/proj"
        return self._runs


def test_full_history_with_backoff_and_cache(tmp_path):
    runs = [FakeRun("a", 5000, fail=2), FakeRun("b", 3000, state="running")]
    api, waits = FakeApi(runs, fail=1), []
    parts = read_parts("ent/proj", api=api, cache=tmp_path, sleep=waits.append)
    assert waits == [1.0, 1.0, 2.0]  # the listing once, run a's history twice: 1 s, then 1 s, 2 s
    frame = assemble(parts, "wandb:ent/proj")
    assert len(frame) == 8000 and frame.groupby("run_id").size().to_dict() == {"a": 5000, "b": 3000}
    assert {"config.lr", "config.name", "config.wandb_group", "_runtime", "loss"} <= set(frame.columns)
    assert "config._wandb.x" not in frame.columns
    assert frame.loc[frame["run_id"] == "a", "loss"].iloc[-1] == pytest.approx(3.0 - 4999 / 5000, abs=0)
    # the finished run is cached, the running one is not: a second read scans only b
    scans = [r.scans for r in runs]
    again = assemble(read_parts("ent/proj", api=FakeApi(runs), cache=tmp_path, sleep=waits.append), "x")
    assert [r.scans for r in runs] == [scans[0], scans[1] + 1]
    assert len(again) == len(frame)
    assert again["loss"].tolist() == frame["loss"].tolist()


def test_backoff_gives_up_in_one_line_and_passes_other_errors():
    waits = []

    def always():
        raise RateLimited()

    with pytest.raises(TrackerError, match=r"wandb:e/p: the W&B API failed after 6 tries \(429 Too Many"):
        backoff(always, "wandb:e/p", waits.append)
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0]

    def denied():
        raise PermissionError("401 unauthorized")

    with pytest.raises(TrackerError, match=r"wandb:e/p: the W&B API failed \(401 unauthorized\)"):
        backoff(denied, "wandb:e/p", waits.append)
    assert len(waits) == 5  # no retry of a permanent error


def test_non_numeric_history_is_refused(tmp_path):
    class Textual(FakeRun):
        def scan_history(self, page_size: int = 1000):
            return iter([{"_step": 0, "loss": 1.0}, {"_step": 1, "loss": "oops"}])

    with pytest.raises(TrackerError, match=r"wandb:ent/proj/t: step 1: metric 'loss' is 'oops', not a number"):
        read_parts("ent/proj", api=FakeApi([Textual("t", 2)]), cache=tmp_path, sleep=lambda s: None)
