"""Progress of a long fit on the terminal: one status line on stderr, redrawn in place.

The library reports its long work as tasks (:mod:`scalefit._progress`: a select's candidates, bootstrap
resamples, calibration fold refits, the hyperparameter fits); :func:`showing_progress` installs
:class:`StatusLine` as the hook while a command runs. The line is drawn only when stderr is a terminal (never
into a file, a pipe or a CI log), never under ``--json`` or ``--quiet``, and first after :data:`DELAY` seconds,
so a quick command prints nothing extra. A ticker thread redraws it (elapsed time, open tasks innermost last)
until the command's work ends; it is erased before the command prints its result, warnings or error.
"""

from __future__ import annotations

import os
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import IO

from scalefit._progress import Progress, progress
from scalefit.cli.common import duration, printable

__all__ = ["DELAY", "StatusLine", "showing_progress", "wanted"]

DELAY = 2.0  # seconds of work before the first line: a quick command shows none
INTERVAL = 0.25  # seconds between redraws
_ERASE = "\r\x1b[K"  # carriage return, erase to the end of the line


class StatusLine:
    """Hook for :func:`scalefit._progress.progress`: keeps the open tasks and draws them as one line on ``stream``.

    ``clock`` and ``width`` are injectable for tests; :meth:`draw` is what the ticker calls.
    """

    def __init__(self, stream: IO[str], *, delay: float = DELAY, clock: Callable[[], float] = time.monotonic,
                 width: Callable[[], int] | None = None) -> None:
        self.stream, self.delay, self.clock = stream, delay, clock
        self.width = width or (lambda: shutil.get_terminal_size((100, 24)).columns)
        self.t0 = clock()
        self.open: dict[int, Progress] = {}  # task id -> its latest event, outermost first
        self.shown = False  # a line is on the terminal now
        self.drawn = ""  # the text of that line
        self._lock = threading.Lock()

    def __call__(self, event: Progress) -> None:
        with self._lock:
            if event.finished:
                self.open.pop(event.id, None)
            else:
                self.open[event.id] = event

    def line(self) -> str:
        """The status text: elapsed time, then each open task (outermost first)."""
        parts = [f"working {duration(self.clock() - self.t0)}"]
        for e in sorted(self.open.values(), key=lambda e: e.depth):
            text = e.task if e.total <= 1 else f"{e.task} {e.done}/{e.total}"
            parts.append(f"{text} ({e.detail})" if e.detail else text)
        return printable(" · ".join(parts))

    def draw(self) -> None:
        """Redraw the line (erase it when no task is open); nothing before ``delay`` seconds of work."""
        with self._lock:
            if self.clock() - self.t0 < self.delay:
                return
            if not self.open:
                self.erase_locked()
                return
            cols = max(self.width() - 1, 20)  # one column spare: a full-width line wraps on some terminals
            text = self.line()
            text = text if len(text) <= cols else text[: cols - 1] + "…"
            if not (self.shown and text == self.drawn):
                self.stream.write(_ERASE + text)
                self.stream.flush()
            self.shown, self.drawn = True, text

    def erase(self) -> None:
        with self._lock:
            self.erase_locked()

    def erase_locked(self) -> None:
        if self.shown:
            self.stream.write(_ERASE)
            self.stream.flush()
            self.shown = False


def wanted(stream: IO[str], *, as_json: bool = False, quiet: bool = False) -> bool:
    """Whether to draw progress: ``stream`` is a terminal (not a dumb one), and neither --json nor --quiet."""
    return not (as_json or quiet or os.environ.get("TERM") == "dumb") and _is_terminal(stream)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


@contextmanager
def showing_progress(*, as_json: bool = False, quiet: bool = False, stream: IO[str] | None = None,
                     delay: float | None = None, interval: float = INTERVAL) -> Iterator[StatusLine | None]:
    """Install a :class:`StatusLine` on stderr (or ``stream``) with its ticker for the ``with`` block when
    :func:`wanted`; yields it, or None when progress is not shown. The line is erased on exit. ``delay``
    defaults to :data:`DELAY`."""
    stream = sys.stderr if stream is None else stream
    delay = DELAY if delay is None else delay
    if not wanted(stream, as_json=as_json, quiet=quiet):
        yield None
        return
    status = StatusLine(stream, delay=delay)
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(interval):
            status.draw()

    ticker = threading.Thread(target=tick, name="scalefit-progress", daemon=True)
    ticker.start()
    try:
        with progress(status):
            yield status
    finally:
        stop.set()
        ticker.join()
        status.erase()
