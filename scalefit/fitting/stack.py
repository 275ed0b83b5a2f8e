"""Several fits of one law descending together: the groups of a grouped fit, the folds of a calibration.

A descent step costs a fixed few dozen numpy calls plus work proportional to starts × rows. One fit of a small
grid (a 3-parameter law's 210 starts on 20 rows) is all fixed cost; a hundred such fits one after another pay it
a hundred times. Here every fit's starts descend in one batched descent, each start on its own fit's rows: the
rows of fit g are padded to the longest fit's row count (padding rows copy a real row and weigh 0, so they add
nothing to any objective, gradient or Gauss-Newton matrix) and a start sees the rows of the fit that owns it
(:meth:`scalefit.fitting.objective.Problem.for_starts`). Starts are cut into chunks by the memory budget, as in
:func:`scalefit.fitting.search.parallel_descent`, and only a chunk's rows are gathered at a time.

A start's descent is the same whether it runs alone or stacked (its own rows, plus padding terms that are exact
zeros; sums may round differently in the last bit), so a stacked search finds what the fits' own searches find.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scalefit.errors import FitError
from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row
from scalefit.fitting.chunked import workers as default_workers
from scalefit.fitting.objective import Problem


@dataclass(frozen=True)
class Stack:
    """Problems of one law and one objective (loss, delta, space), their rows padded to one count."""

    problems: tuple[Problem, ...]

    def __post_init__(self) -> None:
        if not self.problems:
            raise FitError("a stack needs at least one problem")
        first = self.problems[0]
        for p in self.problems[1:]:
            if p.law is not first.law or (p.loss, p.delta, p.space) != (first.loss, first.delta, first.space):
                raise FitError("stacked problems must share one law and one objective (loss, delta, space)")
            if set(p.x) != set(first.x):
                raise FitError(f"stacked problems must share their inputs: {sorted(p.x)} vs {sorted(first.x)}")

    @property
    def n_rows(self) -> int:
        return max(p.n_rows for p in self.problems)

    @cached_property
    def padded(self) -> Problem:
        """One problem with one row set per stacked problem: inputs, target and row weights (G, n_rows)."""
        n, first = self.n_rows, self.problems[0]

        def pad(v: np.ndarray) -> np.ndarray:  # padding copies row 0: finite wherever the real rows are
            v = np.asarray(v, dtype=float)
            return np.concatenate([v, np.full(n - v.size, v[0])]) if v.size < n else v

        x = {s: np.stack([pad(p.x[s]) for p in self.problems]) for s in first.x}
        y = np.stack([pad(p.y) for p in self.problems])
        w = np.zeros((len(self.problems), n))
        for g, p in enumerate(self.problems):
            w[g, : p.n_rows] = 1.0 if p.w is None else p.w
        out = Problem(first.law, x, y, loss=first.loss, delta=first.delta, space=first.space, w=w)
        _ = out.fit_bounds, out.is_log, (out._log_y if out.space == "log" else None)  # cached, for every view
        return out

    def for_owners(self, owners: np.ndarray) -> Problem:
        """The problem of starts owned by ``owners`` (indices into :attr:`problems`): a single problem as it is."""
        if len(self.problems) == 1:
            return self.problems[0]
        return self.padded.for_starts(np.asarray(owners))


def stacked_descent(problems: Sequence[Problem], theta0s: Sequence[np.ndarray], *, max_iter: int = 100,
                    tol: float = 1e-9, workers: int | None = None, budget: int = MEMORY_BUDGET,
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`~scalefit.fitting.search.batched_descent` of each problem's starts ``theta0s[g]`` (fit space, (K_g,
    P)) on its own rows, all in one batched descent; ``[(theta, f)]`` per problem, as their own descents give."""
    from scalefit.fitting.search import batched_descent, in_threads, start_chunks

    stack = Stack(tuple(problems))
    sizes = [len(t) for t in theta0s]
    theta0 = np.concatenate([np.atleast_2d(t) for t in theta0s])
    if theta0.shape[0] == 0:
        return [(theta0, np.zeros(0)) for _ in sizes]
    owners = np.repeat(np.arange(len(sizes)), sizes)
    workers = workers or default_workers()
    data = 0 if len(sizes) == 1 else 8 * (len(stack.problems[0].x) + 3)  # gathered inputs, y, log y, w per row
    chunks = start_chunks(theta0.shape[0], (bytes_per_row(1, theta0.shape[1]) + data) * stack.n_rows, workers,
                          budget)
    theta, f = in_threads(lambda i: batched_descent(stack.for_owners(owners[i]), theta0[i], max_iter=max_iter,
                                                    tol=tol), chunks, workers)
    cuts = np.cumsum(sizes)[:-1]
    return list(zip(np.split(theta, cuts), np.split(f, cuts)))


__all__ = ["Stack", "stacked_descent"]
