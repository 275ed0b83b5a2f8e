"""Registry of law factories: ``register("name")`` decorates a function returning a Law."""

from __future__ import annotations

import difflib
from collections.abc import Callable

from scalefit.errors import LawError
from scalefit.laws.base import Law

_FACTORIES: dict[str, Callable[..., Law]] = {}


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
