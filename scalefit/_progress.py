"""Progress of long library work, reported to a hook the caller installs (the library never prints).

The long paths (a ``select``'s candidates and their fold refits, bootstrap resamples, a calibration's fold
refits, the multi-start search, a backtest's folds, the fits of the hyperparameter procedure) each open a
:func:`task` and advance it; whoever wants to see that installs a hook:

    import scalefit

    def show(event: scalefit.Progress) -> None:
        print(event.task, event.done, event.total, event.detail)

    with scalefit.progress(show):
        scalefit.fit("chinchilla", "runs.csv", bootstrap=1000)

The hook is held in a :class:`contextvars.ContextVar`: it applies to the code run in the ``with`` block of the
installing thread (or asyncio task), never to another caller's work. Without a hook a task costs one lookup.
Tasks nest (a select's candidate fits bootstrap and calibrate): each event carries its task's ``id`` and
``depth``, and every task ends with one event whose ``finished`` is True, also when the work raised. A hook
that raises stops the work (it is the caller's code); the CLI's hook draws a status line on a terminal
(:mod:`scalefit.cli.fit_progress`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

__all__ = ["Progress", "each", "progress", "task"]


@dataclass(frozen=True)
class Progress:
    """One progress event of a task."""

    task: str  # what is counted, e.g. "bootstrap resamples", "candidates"
    done: int  # units finished so far, 0 <= done <= total
    total: int  # units the task will do
    detail: str = ""  # the unit being worked on now, e.g. "chinchilla (huber)"; "" when none
    id: int = 0  # the task's id: events of one task share it (a process-wide counter)
    depth: int = 0  # how many tasks enclose it (0: outermost)
    finished: bool = False  # the task's last event (its work ended, done or raised)


Hook = Callable[[Progress], None]
T = TypeVar("T")
_HOOK: ContextVar[Hook | None] = ContextVar("scalefit_progress_hook", default=None)
_DEPTH: ContextVar[int] = ContextVar("scalefit_progress_depth", default=0)
_IDS = itertools.count(1)


@contextmanager
def progress(hook: Hook | None) -> Iterator[None]:
    """Send the progress events of the work in the ``with`` block to ``hook`` (None: to nobody)."""
    if hook is not None and not callable(hook):
        raise TypeError(f"progress hook must be callable (it receives a scalefit.Progress), got {hook!r}")
    token = _HOOK.set(hook)
    try:
        yield
    finally:
        _HOOK.reset(token)


def _ignore(done: int, detail: str = "") -> None:
    """The advance function of a task nobody watches."""


@contextmanager
def task(name: str, total: int, detail: str = "") -> Iterator[Callable[..., None]]:
    """A task of ``total`` units: yields ``advance(done, detail="")``, which reports ``done`` units finished (and
    what is being worked on now). The task's first event (done 0) is sent on entry and its ``finished`` event on
    exit. Without a hook, nothing is built."""
    hook = _HOOK.get()
    if hook is None:
        yield _ignore
        return
    ident, depth, total = next(_IDS), _DEPTH.get(), max(int(total), 0)
    state = {"done": 0, "detail": detail}

    def advance(done: int, detail: str = "") -> None:
        state["done"], state["detail"] = min(max(int(done), 0), total), detail
        hook(Progress(name, state["done"], total, detail, ident, depth))

    token = _DEPTH.set(depth + 1)
    try:
        hook(Progress(name, 0, total, detail, ident, depth))
        yield advance
    finally:
        _DEPTH.reset(token)
        hook(Progress(name, state["done"], total, state["detail"], ident, depth, finished=True))


def each(name: str, items: Iterable[T], detail: Callable[[T], str] = str) -> Iterator[T]:
    """The items, as a task of one unit per item: before each, ``detail(item)`` is reported with the items done
    so far, and all are reported done after the last (``for law in each("candidates", laws, ...)``)."""
    items = list(items)
    with task(name, len(items)) as advance:
        for done, item in enumerate(items):
            advance(done, detail(item))
            yield item
        advance(len(items))
