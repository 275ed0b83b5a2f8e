"""Fitting procedures: named library functions registered beside the laws, reached by ``scalefit.fit(name, ...)``.

A *law* is one formula fitted by the robust multi-start engine; a *procedure* is a recipe built on laws and
data handling (IsoFLOP parabolas then power laws, training-curve envelopes, per-cell hyperparameter optima
then laws, LR-transfer optima per width, loss-curve areas then the lr-annealing law). ``scalefit.fit`` and
``scalefit fit NAME`` reach the same function; ``scalefit laws`` lists both. Functions are imported on first
use, so the registry costs nothing at start-up.

    scalefit.fit("isoflop", "runs/chinchilla-cpu/runs.csv", bootstrap=1000)
    scalefit.fit("lr-annealing", "runs/schedules-cpu", where="schedule != 'wsd'", fit_lambda=True)
"""

from __future__ import annotations

import ast
import inspect
from dataclasses import dataclass
from importlib import import_module
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from scalefit.errors import FitError


@dataclass(frozen=True)
class Procedure:
    """A registered fitting procedure."""

    name: str  # what `scalefit fit NAME` and `scalefit.fit(NAME, ...)` call it
    function: str  # "module:function" of the library function (data first, keyword options after)
    summary: str  # one line: what it fits and returns
    source: str  # the paper it follows
    result: str  # the result type it returns

    def load(self):
        module, name = self.function.split(":")
        return getattr(import_module(module), name)

    def options(self) -> list[str]:
        """The keyword options the procedure takes (``where``, ``bootstrap``, its own ...); read from the
        module's source when the function is defined there, so listing procedures imports none of them."""
        static = _source_options(*self.function.split(":"))
        if static is not None:
            return static
        sig = inspect.signature(self.load())
        return [p.name for p in list(sig.parameters.values())[1:] if p.kind is not p.VAR_POSITIONAL]

    def __call__(self, data: Any, **options: Any) -> Any:
        fn = self.load()
        sig = inspect.signature(fn)
        takes_any = any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values())
        unknown = sorted(set(options) - set(self.options())) if not takes_any else []
        if unknown:
            raise FitError(f"procedure {self.name!r} does not take {unknown}; it takes {self.options()}")
        return fn(data, **options)


def _source_options(module: str, name: str) -> list[str] | None:
    """The parameters after the first of function ``name`` as written in ``module``'s source (None when it is
    not a plain ``def`` there); what ``inspect.signature`` would list, without importing the module."""
    spec = find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
    fn = next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)
    if fn is None:
        return None
    a = fn.args
    return [p.arg for p in [*a.posonlyargs, *a.args][1:]] + [p.arg for p in a.kwonlyargs] + (
        [a.kwarg.arg] if a.kwarg else [])


PROCEDURES: dict[str, Procedure] = {p.name: p for p in (
    Procedure("isoflop", "scalefit.planning.isoflop:isoflop",
              "IsoFLOP profiles: a parabola in log N per compute budget, then N*(C) = k C^a and D*(C) = k C^b",
              "Hoffmann et al. 2022, Approach 2", "FrontierResult"),
    Procedure("envelope", "scalefit.planning.envelope:envelope",
              "lower envelope of training curves over compute, then N*(C) and D*(C) power laws",
              "Hoffmann et al. 2022, Approach 1", "FrontierResult"),
    Procedure("hparams", "scalefit.planning.hparams:fit_hparams",
              "per-(N, D) cell optima of learning rate and batch size, then lr*(N, D) and B*(D) laws",
              "Li et al. 2025, Step Law", "HparamFit"),
    Procedure("lr-transfer", "scalefit.planning.lr_transfer:lr_transfer",
              "optimal learning rate per width and parametrization, slope of log lr* vs log width, sensitivity",
              "Yang et al. 2022 (muP); Wortsman et al. 2023", "LRTransferResult"),
    Procedure("lr-annealing", "scalefit.planning.lr_annealing:fit_curves",
              "the lr-annealing law fitted to whole loss curves: areas S1, S2 computed from each run's schedule",
              "Tissue et al. 2024", "FitResult (law lr-annealing; CurveFit from the library)"),
    Procedure("ladder", "scalefit.planning.ladder:ladder",
              "model ladder: task loss L(N, D) per task on each run's last checkpoint, then a sigmoid Acc(L) on "
              "all checkpoints (anchored at L=0, Acc=1); predicts each task's accuracy at a larger N, D",
              "Bhagia et al. 2024, model ladders", "LadderResult"),
)}


def get_procedure(name: str) -> Procedure:
    """The registered procedure ``name``; FitError listing the registered ones otherwise."""
    if name not in PROCEDURES:
        raise FitError(f"no procedure {name!r}; procedures are {sorted(PROCEDURES)}")
    return PROCEDURES[name]


def list_procedures() -> list[str]:
    return list(PROCEDURES)


__all__ = ["PROCEDURES", "Procedure", "get_procedure", "list_procedures"]
