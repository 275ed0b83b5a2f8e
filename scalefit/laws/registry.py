"""Registry of law factories: ``register("name")`` decorates a function returning a Law; ``nests(...)`` declares
that one law contains another.

A nesting says: law A (built with some factory options) contains law B (built with options derived from A's),
because B's formula is A's with some parameters at fixed values; ``embed`` writes B's parameters (and, where a
value depends on the rows, the fit's inputs) as A's, and A then predicts exactly what B predicts (to rounding).
The search (:mod:`scalefit.fitting.search`) starts A's descent from B's optimum as well, so a fitted A is never
worse on its training rows than B fitted on them. The declared nestings (checked by a test on parameter values):

- ``alabdulmohsin-m2`` ⊇ ``alabdulmohsin-m1`` (eps_inf → 0), ``alabdulmohsin-m3`` ⊇ ``alabdulmohsin-m1``
  (gamma → 0, c → -c), ``alabdulmohsin-m4`` ⊇ ``alabdulmohsin-m2`` (alpha = 0, eps_0 above every prediction);
- ``bnsl`` with 2 breaks ⊇ with 1 break (c2 = 0), ``bnsl`` with 1 break ⊇ ``power`` in the same x (c1 = 0);
- ``chinchilla`` ⊇ ``power`` in N (B → 0, beta = 0) and ``power`` in D (A → 0, alpha = 0).

"→ 0" is :data:`TINY`: a parameter fitted as a logarithm cannot be 0, and 1e-300 added to a loss rounds away.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from scalefit.errors import LawError
from scalefit.laws.base import Law

_FACTORIES: dict[str, Callable[..., Law]] = {}
TINY = 1e-300  # a log-fitted parameter "at 0" in a nesting: positive, and it rounds away beside any loss


@dataclass(frozen=True)
class Nesting:
    """Law ``outer`` contains law ``inner``; see the module docstring."""

    outer: str  # registered name of the larger law
    inner: str  # registered name of the law it contains
    options: Callable[[Mapping], Mapping | None]  # outer's factory options -> inner's (None: not nested then)
    embed: Callable[[Mapping, Mapping], Mapping]  # (inner's parameters, the fit's inputs) -> outer's parameters


_NESTINGS: list[Nesting] = []


def nests(outer: str, inner: str, *, options: Callable[[Mapping], Mapping | None],
          embed: Callable[[Mapping, Mapping], Mapping]) -> None:
    """Declare that law ``outer`` contains law ``inner``: ``options`` maps outer's factory options to inner's
    (None where this outer does not contain it), ``embed`` writes inner's parameters as outer's."""
    _NESTINGS.append(Nesting(outer, inner, options, embed))


def nested_laws(law: Law) -> list[tuple[Law, Callable[[Mapping, Mapping], Mapping], str]]:
    """The laws ``law`` contains (its declared nestings that hold for its options): (inner law, embed, label)."""
    from scalefit.laws.constraints import OPTION

    options = {k: v for k, v in law.options.items() if k != OPTION}
    out = []
    for n in _NESTINGS:
        inner_options = n.options(options) if n.outer == law.name else None
        if inner_options is None:
            continue
        try:
            inner = get_law(n.inner, **inner_options)
        except LawError:  # e.g. a symbol the inner law reserves: not nested for these options
            continue
        label = n.inner + (f"({', '.join(f'{k}={v}' for k, v in inner_options.items())})" if inner_options else "")
        out.append((inner, n.embed, label))
    return out


def nestings() -> list[Nesting]:
    """Every declared nesting."""
    return list(_NESTINGS)


def register(name: str) -> Callable[[Callable[..., Law]], Callable[..., Law]]:
    """Register a factory ``f(**options) -> Law`` under ``name``."""

    def deco(factory: Callable[..., Law]) -> Callable[..., Law]:
        if name in _FACTORIES:
            raise LawError(f"a law named {name!r} is already registered")
        _FACTORIES[name] = factory
        return factory

    return deco


def list_laws() -> list[str]:
    """Names of all registered laws, sorted."""
    return sorted(_FACTORIES)


def get_law(name: str, **options: object) -> Law:
    """Build the law registered as ``name`` with its factory options (e.g. ``x="C"`` for ``power``)."""
    try:
        factory = _FACTORIES[name]
    except KeyError:
        close = difflib.get_close_matches(name, _FACTORIES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise LawError(f"unknown law {name!r}.{hint} Known laws: {', '.join(list_laws())}") from None
    from scalefit.laws.constraints import OPTION, rebuild

    options = dict(options)
    constraints = options.pop(OPTION, None)  # a constrained law (--param/--fix) records them among its options
    try:
        law = factory(**options)
    except TypeError as exc:
        raise LawError(f"law {name!r} does not take options {sorted(options)}: {exc}") from None
    return law if constraints is None else rebuild(law, constraints)
