"""Several fits of one law descending together: the groups of a grouped fit, the folds of a calibration.

A descent step costs a fixed few dozen numpy calls plus work proportional to starts × rows. One fit of a small
grid (a 3-parameter law's 210 starts on 20 rows) is all fixed cost; a hundred such fits one after another pay it
a hundred times. Here every fit's starts descend in one batched descent, each start on its own fit's rows: the
rows of fit g are padded (padding rows copy a real row and weigh 0, so they add nothing to any objective,
gradient or Gauss-Newton matrix) and a start sees the rows of the fit that owns it
(:meth:`scalefit.fitting.objective.Problem.for_starts`). Starts are cut into chunks by the memory budget
(:func:`scalefit.fitting.descent.start_chunks`), and only a chunk's rows are gathered at a time.

A start's descent is the same, to the last bit, whether its fit runs alone or stacked: every fit of n rows is
evaluated at :func:`padded_rows` (n) rows, alone too, and only fits with the same padded row count share a stack.
A sum over rows rounds by the count it runs over (numpy sums pairwise), so padding one fit to another's length
would move its descent in the last bits, and a descent near the edge of a basin can then end in another one.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from scalefit.errors import FitError
from scalefit.fitting.chunked import MEMORY_BUDGET, bytes_per_row
from scalefit.fitting.chunked import workers as default_workers
from scalefit.fitting.descent import DenseRows, descend, start_chunks
from scalefit.fitting.objective import Problem


def padded_rows(n: int) -> int:
    """The rows a fit of ``n`` rows is evaluated at, alone or stacked: n rounded up to a multiple of
    2^(bit_length(n) - 4) (n itself below 16, at most 1/8 more above), so fits of similar sizes share a stack."""
    step = 1 << max(0, int(n).bit_length() - 4)
    return -(-int(n) // step) * step


@dataclass(frozen=True)
class Stack:
    """Problems of one law and one objective (loss, delta, space), their rows padded to one count: the
    :func:`padded_rows` of the longest (stacks are built of problems with equal padded counts)."""

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
        return padded_rows(max(p.n_rows for p in self.problems))

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
        """The problem of starts owned by ``owners`` (indices into :attr:`problems`): a single unpadded problem
        as it is."""
        if len(self.problems) == 1 and self.problems[0].n_rows == self.n_rows:
            return self.problems[0]
        return self.padded.for_starts(np.asarray(owners))


def stacked_descent(problems: Sequence[Problem], theta0s: Sequence[np.ndarray], *, max_iter: int = 100,
                    tol: float = 1e-9, workers: int | None = None, budget: int = MEMORY_BUDGET,
                    ) -> list[tuple[np.ndarray, np.ndarray]]:
    """:func:`~scalefit.fitting.descent.descend` of each problem's starts ``theta0s[g]`` (fit space, (K_g, P)) on
    its own rows, stacked with the problems of the same :func:`padded_rows`; ``[(theta, f)]`` per problem, as
    their own descents give to the last bit. Every chunk of every stack runs in one pool of ``workers`` threads."""
    Stack(tuple(problems))  # one law, one objective, one set of inputs
    workers = workers or default_workers()
    buckets: dict[int, list[int]] = {}
    for g, p in enumerate(problems):
        buckets.setdefault(padded_rows(p.n_rows), []).append(g)
    tasks, places = [], []
    for members in buckets.values():
        stack = Stack(tuple(problems[g] for g in members))
        sizes = [len(theta0s[g]) for g in members]
        theta0 = np.concatenate([np.atleast_2d(theta0s[g]) for g in members])
        owners = np.repeat(np.arange(len(members)), sizes)
        shared = stack.for_owners(owners[:1]) is stack.problems[0]
        data = 0 if shared else 8 * (len(stack.problems[0].x) + 3)  # gathered inputs, y, log y, w per row
        per_start = (bytes_per_row(1, theta0.shape[1]) + data) * stack.n_rows
        chunks = start_chunks(theta0.shape[0], per_start, workers, budget) if len(theta0) else []
        tasks += [(stack, owners[c], theta0[c]) for c in chunks]
        places.append((members, sizes, len(chunks), theta0.shape[1]))

    def run(task):
        stack, owners, theta0 = task
        return descend(DenseRows(stack.for_owners(owners)), theta0, max_iter=max_iter, tol=tol)

    if len(tasks) > 1 and workers > 1:
        with ThreadPoolExecutor(workers) as pool:
            done = iter(pool.map(run, tasks))
    else:
        done = iter(map(run, tasks))
    out: list = [None] * len(problems)
    for members, sizes, n_chunks, n_par in places:
        parts = [next(done) for _ in range(n_chunks)]
        theta = np.concatenate([p[0] for p in parts]) if parts else np.zeros((0, n_par))
        f = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0)
        cuts = np.cumsum(sizes)[:-1]
        for g, th, fg in zip(members, np.split(theta, cuts), np.split(f, cuts)):
            out[g] = (th, fg)
    return out


__all__ = ["Stack", "padded_rows", "stacked_descent"]
