"""Live progress of a sweep: runs done/failed/remaining, the current runs' loss, and an ETA.

On a terminal it is a rich progress bar; otherwise (logs, ``nohup``) one line per finished run.
The ETA scales the remaining runs' estimated times by how long the finished ones really took.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from scalefit.cli.common import duration, echo, printable
from scalefit.sweeps.runner import SweepEvent

__all__ = ["SweepProgress"]


class SweepProgress:
    """Callable ``on_event`` for ``run_sweep`` that draws progress on stderr."""

    def __init__(self, name: str, workers: int, live: bool | None = None) -> None:
        self.name, self.workers = name, max(workers, 1)
        self.live = sys.stderr.isatty() if live is None else live
        self.todo = self.done = self.failed = self.diverged = 0
        self.est_left = self.est_done = 0.0
        self.t0 = time.perf_counter()
        self.current: dict[str, str] = {}
        self._progress: Any = None
        self._task: Any = None

    def eta(self) -> float:
        elapsed = time.perf_counter() - self.t0
        if self.est_done > 0:
            return elapsed / self.est_done * self.est_left
        return self.est_left / self.workers

    def line(self) -> str:
        left = self.todo - self.done - self.failed - self.diverged
        text = f"{self.name}: {self.done} ok, {self.diverged} diverged, {self.failed} failed, {left} left"
        text += f", ETA {duration(self.eta())}"
        if self.current:
            text += " | " + "  ".join(f"{rid[:6]} {msg}" for rid, msg in list(self.current.items())[:4])
        return text

    def __call__(self, event: SweepEvent) -> None:
        getattr(self, f"_on_{event.kind}")(event)

    def _on_plan(self, event: SweepEvent) -> None:
        self.todo, self.est_left = event.data["todo"], event.data["estimate_s"]
        self._echo(f"{self.name}: {event.data['planned']} runs planned, {event.data['skipped']} already finished, "
                   f"{self.todo} to run (estimated {duration(self.est_left / self.workers)})")  # fmt: skip
        if self.live and self.todo:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

            self._progress = Progress(
                BarColumn(), MofNCompleteColumn(), TextColumn("{task.description}", markup=False),
                console=Console(stderr=True),
            )
            self._task = self._progress.add_task(printable(self.line()), total=self.todo)
            self._progress.start()

    def _on_start(self, event: SweepEvent) -> None:
        self.current[event.run.run_id] = f"N={event.run.n_params:,} starting"
        self._refresh()

    def _on_log(self, event: SweepEvent) -> None:
        row = event.data
        self.current[event.run.run_id] = f"step {row['step']} loss {row['loss']:.3f}"
        self._refresh()

    def _on_done(self, event: SweepEvent) -> None:
        row, run = event.data, event.run
        status = row.get("status", "failed")
        if status == "ok":
            self.done += 1
        elif status == "diverged":
            self.diverged += 1
        else:
            self.failed += 1
        self.est_done += event.estimate_s
        self.est_left -= event.estimate_s
        self.current.pop(run.run_id, None)
        loss = "-" if row.get("loss") is None else f"{row['loss']:.4f}"
        wall = row.get("wall_s") or 0.0
        finished = self.done + self.failed + self.diverged
        msg = f"[{finished}/{self.todo}] {run.run_id} {status} N={run.n_params:,} D={run.n_tokens:,} loss {loss} "
        msg += f"({wall:.0f}s, ETA {duration(self.eta())})"
        if status != "ok" and row.get("message"):
            msg += f": {row['message']}"
        if self._progress is not None:
            self._print(msg)
            self._progress.update(self._task, advance=1)
        else:
            self._echo(msg)
        self._refresh()

    def _on_lost(self, event: SweepEvent) -> None:
        """A run stopped by the scheduler (cancelled, preempted, node failure): pending again, not failed."""
        self.todo -= 1
        self.est_left -= event.estimate_s
        self.current.pop(event.run.run_id, None)
        msg = f"{event.run.run_id}: {event.data.get('message', 'stopped by the scheduler')} (left pending)"
        if self._progress is not None:
            self._print(msg)
            self._progress.update(self._task, total=max(self.todo, 0))
        else:
            self._echo(msg)
        self._refresh()

    def _on_end(self, event: SweepEvent) -> None:
        self.close()

    def close(self) -> None:
        """Stop the live bar and show the cursor again (after the end, an interrupt or an error); idempotent."""
        if self._progress is not None:
            self._progress.stop()
            self._progress = None

    def _refresh(self) -> None:
        if self._progress is not None:
            self._progress.update(self._task, description=printable(self.line()))

    def _print(self, text: str) -> None:
        """A line above the live bar: data-derived text escaped, never read as rich markup (``[red]``)."""
        self._progress.console.print(printable(text), markup=False, highlight=False, emoji=False)

    def _echo(self, text: str) -> None:
        echo(text, err=True)
