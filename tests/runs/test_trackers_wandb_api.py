"""The W&B API reader's logic on a fake client (the live service cannot be reached here): full history from the
run's history artifact, else scan_history (never the sampled run.history), back-off on rate limits, the Parquet
cache of finished runs."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
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

    def scan_history(self, page_size: int = 1000, min_step: int = 0):
        self.scans += 1
        if self.fail:
            self.fail -= 1
            raise RateLimited()
        return iter([{"_step": s, "loss": 3.0 - s / self.n, "_runtime": s * 0.5} for s in range(min_step, self.n)])

    def logged_artifacts(self):
        return []


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
        def scan_history(self, page_size: int = 1000, min_step: int = 0):
            return iter([{"_step": 0, "loss": 1.0}, {"_step": 1, "loss": "oops"}])

    with pytest.raises(TrackerError, match=r"wandb:ent/proj/t: step 1: metric 'loss' is 'oops', not a number"):
        read_parts("ent/proj", api=FakeApi([Textual("t", 2)]), cache=tmp_path, sleep=lambda s: None)


class FakeArtifact:
    """A logged artifact; a ``wandb-history`` one downloads W&B's Parquet export (``0000.parquet`` ...)."""

    def __init__(self, kind: str, version: str, chunks: list[pd.DataFrame], fail: int = 0) -> None:
        self.type, self.version, self.chunks, self.fail, self.downloads = kind, version, chunks, fail, 0

    def download(self, root: str | None = None) -> str:
        self.downloads += 1
        if self.fail:
            self.fail -= 1
            raise RateLimited()
        folder = Path(root) / f"run-x-history:{self.version}"
        folder.mkdir(parents=True)
        for i, chunk in enumerate(self.chunks):
            chunk.to_parquet(folder / f"{i:04d}.parquet", index=False)
        return str(root)


def export(steps: range, n: int) -> pd.DataFrame:
    return pd.DataFrame({"_step": list(steps), "_runtime": [s * 0.5 for s in steps],
                         "loss": [3.0 - s / n for s in steps]})


class Exported(FakeRun):
    def __init__(self, rid: str, n: int, exported: int, artifacts: list[FakeArtifact], **kw) -> None:
        super().__init__(rid, n, **kw)
        self.lastHistoryStep, self.artifacts, self.exported = n - 1, artifacts, exported
        self.min_steps: list[int] = []

    def logged_artifacts(self):
        return iter(self.artifacts)

    def scan_history(self, page_size: int = 1000, min_step: int = 0):
        self.min_steps.append(min_step)
        return super().scan_history(page_size, min_step)


def test_history_artifact_first_its_tail_scanned_other_artifacts_ignored(tmp_path):
    n = 5000
    stale = FakeArtifact("wandb-history", "v0", [export(range(0, 10), n)])
    latest = FakeArtifact("wandb-history", "v1", [export(range(0, 2500), n), export(range(2500, 4000), n)],
                          fail=1)
    model = FakeArtifact("model", "v7", [])
    done = Exported("a", 4000, 4000, [stale, model, latest])  # finished and fully exported: no scan at all
    live = Exported("b", n, 4000, [stale, latest], state="running")  # still logging: rows after 3999 scanned
    bare = Exported("c", 3000, 0, [model])  # no history artifact: scan_history alone
    waits: list[float] = []
    parts = read_parts("ent/proj", api=FakeApi([done, live, bare]), cache=tmp_path, sleep=waits.append)
    assert waits == [1.0]  # the rate-limited download, retried once
    assert done.scans == 0 and live.min_steps == [4000] and bare.min_steps == [0]
    assert stale.downloads == 0 and model.downloads == 0 and latest.downloads == 3
    frame = assemble(parts, "wandb:ent/proj")
    assert frame.groupby("run_id").size().to_dict() == {"a": 4000, "b": n, "c": 3000}  # every row, once
    for rid, size, scale in (("a", 4000, n), ("b", n, n), ("c", 3000, 3000)):  # the export's values, then b's tail
        rows = frame[frame["run_id"] == rid]
        assert rows["step"].tolist() == list(range(size))
        assert rows["loss"].tolist() == [3.0 - s / scale for s in range(size)]
        assert rows["_runtime"].tolist() == [s * 0.5 for s in range(size)]
    assert {"config.lr", "config.wandb_group"} <= set(frame.columns)


def test_a_damaged_history_artifact_names_the_file(tmp_path):
    class Damaged(FakeArtifact):
        def download(self, root: str | None = None) -> str:
            (Path(root) / "0000.parquet").write_bytes(b"not parquet")
            return str(root)

    run = Exported("a", 10, 10, [Damaged("wandb-history", "v0", [])])
    with pytest.raises(TrackerError, match=r"0000\.parquet: not a readable Parquet file"):
        read_parts("ent/proj", api=FakeApi([run]), cache=tmp_path, sleep=lambda s: None)
