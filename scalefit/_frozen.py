"""Read-only containers for results: a fitted result's parameters, statistics and samples cannot be changed
after the fit (``fit.params['E'] = 0`` raises instead of silently changing every prediction).

``FrozenDict`` and ``FrozenList`` subclass ``dict`` and ``list``, so they compare equal to plain ones, serialise
as JSON and pickle; every mutating method raises ``TypeError``. ``freeze(obj)`` converts nested dicts and
lists (and numpy arrays, to read-only copies).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _refuse(self, *args: Any, **kwargs: Any) -> None:
    raise TypeError(f"{type(self).__name__} is read-only: results are immutable data; build a new one instead")


class FrozenDict(dict):
    """A dict that cannot be changed after it is built."""

    __setitem__ = __delitem__ = update = pop = popitem = clear = setdefault = __ior__ = _refuse

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> FrozenDict:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenDict:
        return self


class FrozenList(list):
    """A list that cannot be changed after it is built."""

    __setitem__ = __delitem__ = append = extend = insert = pop = remove = clear = sort = reverse = _refuse
    __iadd__ = __imul__ = _refuse

    def __reduce__(self):
        return (FrozenList, (list(self),))

    def __copy__(self) -> FrozenList:
        return self

    def __deepcopy__(self, memo: dict) -> FrozenList:
        return self


def freeze(obj: Any) -> Any:
    """``obj`` with every nested dict, list and tuple read-only (arrays become read-only copies)."""
    if isinstance(obj, (FrozenDict, FrozenList)):
        return obj
    if isinstance(obj, dict):
        return FrozenDict((k, freeze(v)) for k, v in obj.items())
    if isinstance(obj, list):
        return FrozenList(freeze(v) for v in obj)
    if isinstance(obj, tuple):
        return tuple(freeze(v) for v in obj)
    if isinstance(obj, np.ndarray):
        out = obj.copy()
        out.flags.writeable = False
        return out
    return obj


def thaw(obj: Any) -> Any:
    """A plain, mutable copy of a frozen structure (dicts and lists all the way down), e.g. for ``to_dict``."""
    if isinstance(obj, dict):
        return {k: thaw(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [thaw(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(thaw(v) for v in obj)
    return obj


def freeze_fields(obj: Any) -> None:
    """Make every field of the frozen dataclass ``obj`` read-only (call from ``__post_init__``)."""
    from dataclasses import fields

    for f in fields(obj):
        object.__setattr__(obj, f.name, freeze(getattr(obj, f.name)))


def plain_fields(obj: Any) -> dict:
    """The fields of dataclass ``obj`` as plain, mutable data (for ``to_dict``); nested results stay objects."""
    from dataclasses import fields

    return {f.name: thaw(getattr(obj, f.name)) for f in fields(obj)}
