"""The law contract: a stateless spec of a parametric scaling law.

A law names its input symbols (``N``, ``D``, ``C`` ...), its target symbol (``L`` for loss),
its parameters with bounds and a start grid, and a vectorised ``formula(inputs, params)``.
Parameters may be arrays of shape ``(K, 1)`` so that ``K`` parameter sets are evaluated at
once against inputs of shape ``(n,)``, giving ``(K, n)``. Laws never import scipy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from scalefit.errors import LawError

Arrays = Mapping[str, np.ndarray]
Formula = Callable[[Arrays, Arrays], np.ndarray]
Gradient = Callable[[Arrays, Arrays], dict]


@dataclass(frozen=True)
class Param:
    """One free parameter of a law."""

    name: str  # the paper's symbol, e.g. "alpha"
    grid: tuple[float, ...]  # start values (natural units); the start grid is their product
    lower: float = -np.inf  # lower bound (natural units)
    upper: float = np.inf  # upper bound (natural units)
    log: bool = False  # optimise log(value); the value must stay > 0
    doc: str = ""  # one-line meaning

    def __post_init__(self) -> None:
        if not self.grid:
            raise LawError(f"parameter {self.name!r} needs at least one start value")
        if not self.lower < self.upper:
            raise LawError(f"parameter {self.name!r}: lower bound {self.lower} is not below upper {self.upper}")
        if self.log and self.lower < 0:
            raise LawError(f"parameter {self.name!r} is optimised in log space, so its lower bound must be >= 0")
        bad = [g for g in self.grid if not self.lower <= g <= self.upper]
        if bad:
            raise LawError(f"parameter {self.name!r}: start values {bad} lie outside [{self.lower}, {self.upper}]")


@dataclass(frozen=True)
class Derived:
    """A quantity computed from fitted parameters (and optionally extra inputs such as compute C)."""

    fn: Callable[..., np.ndarray]  # fn(params, **extra) -> value; params may be (K,) arrays
    doc: str  # one-line meaning
    needs: tuple[str, ...] = ()  # extra keyword inputs, e.g. ("C",)


@dataclass(frozen=True)
class Law:
    """A parametric law ``target = formula(inputs; params)``; see the module docstring."""

    name: str  # registry name, e.g. "chinchilla"
    equation: str  # human-readable equation
    source: str  # citation of the paper the form comes from
    inputs: tuple[str, ...]  # input symbols, e.g. ("N", "D")
    params: tuple[Param, ...]  # free parameters
    formula: Formula  # vectorised formula over inputs and params
    target: str = "L"  # target symbol
    gradient: Gradient | None = None  # d formula / d param (natural units), optional
    derived: Mapping[str, Derived] = field(default_factory=dict)  # derived quantities
    options: Mapping[str, object] = field(default_factory=dict)  # factory options that rebuild this law
    positive_target: bool = True  # the target is positive, so log-space fitting is the default
    description: str = ""  # longer note shown by `scalefit laws`
    fixed: Mapping[str, float] = field(default_factory=dict)  # parameters held fixed (see :meth:`constrained`)
    along: str | None = None  # the axis its folds hold out when not its scale axis (N, C, D, M), e.g. "mixture"

    def __post_init__(self) -> None:
        names = [p.name for p in self.params]
        if len(set(names)) != len(names):
            raise LawError(f"law {self.name!r} has duplicate parameter names: {names}")
        clash = set(names) & set(self.inputs)
        if clash:
            raise LawError(f"law {self.name!r}: {sorted(clash)} are both inputs and parameters")
        clash = set(self.fixed) & (set(names) | set(self.inputs))
        if clash:
            raise LawError(f"law {self.name!r}: {sorted(clash)} are fixed and also free parameters or inputs")

    @cached_property
    def param_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.params)

    def constrained(self, params: Mapping[str, object] | None = None, fix: Mapping[str, object] | None = None) -> Law:
        """This law with new (init, min, max) for ``params`` and ``fix``'s parameters held fixed, e.g.
        ``law.constrained(params={"b": (None, 0, 1)}, fix={"L0": 2.0})``; see :mod:`scalefit.laws.constraints`."""
        from scalefit.laws.constraints import constrain

        return constrain(self, params=params, fix=fix)

    def start_grid(self) -> np.ndarray:
        """All combinations of the parameters' start values, shape (n_starts, n_params), natural units."""
        axes = [np.asarray(p.grid, dtype=float) for p in self.params]
        mesh = np.meshgrid(*axes, indexing="ij")
        return np.stack([m.ravel() for m in mesh], axis=1)

    def __call__(self, inputs: Mapping[str, object], params: Mapping[str, object]) -> np.ndarray:
        """Evaluate the law; inputs and params are converted to float arrays."""
        missing = [s for s in self.inputs if s not in inputs]
        if missing:
            raise LawError(f"law {self.name!r} needs inputs {list(self.inputs)}; missing {missing}")
        missing = [p for p in self.param_names if p not in params]
        if missing:
            raise LawError(f"law {self.name!r} needs parameters {list(self.param_names)}; missing {missing}")
        x = {s: np.asarray(inputs[s], dtype=float) for s in self.inputs}
        p = {k: np.asarray(params[k], dtype=float) for k in self.param_names}
        return self.formula(x, p)
