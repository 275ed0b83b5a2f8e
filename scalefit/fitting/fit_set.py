"""FitSet: the fits of one spec to parts of a run log, as one result.

A grouped fit (``spec.fit_groups(runs, "dataset")``, ``--group-by dataset``: one fit per value of the column)
and a multi-target fit (``fit_law(law, runs, target=["loss_c4", "loss_wiki"])``, ``--target a,b``: one fit per
target column, ``by`` is ``"target"``) are a read-only mapping key -> :class:`FitResult`, in the order fitted::

    fits = scalefit.fit("chinchilla", runs, group_by="dataset")
    fits["c4"].predict({"N": 7e10, "D": 1.4e12})    # one member; FitError naming the keys for an unknown one
    fits.predict({"N": 7e10, "D": 1.4e12})          # {key: predictions} of every member
    print(fits); fits.plot(runs); fits.save("fits.json")

with the surface of every result (``report``/``str``, a short ``repr``, ``_repr_html_``, ``plot``, ``save``,
``to_dict``). Its file (schema ``scalefit.fitset/1``) keeps the keys of the grouped fit files written before it
(``group_by``, ``groups``, ``targets``), which :func:`scalefit.load` still reads, as a FitSet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from scalefit import _schema as S  # the field checkers of every result file (S.expect_str, ...)
from scalefit._frozen import freeze, thaw
from scalefit.errors import FitError, FitFileError
from scalefit.fitting.result import FitResult, fit_from_dict, stored_spec
from scalefit.results import ResultFile

SCHEMA = "scalefit.fitset/1"
TARGET_GROUP = "target"  # the ``by`` of a multi-target fit


@dataclass(frozen=True, repr=False)
class FitSet(ResultFile, Mapping):
    """Fits of one law keyed by group value (``by`` a column) or by target column (``targets`` their order)."""

    FILE_KIND = "fit file"
    FILE_HINT = "create one with `scalefit fit LAW RUNS.csv --group-by COLUMN --out {path}`"

    fits: Mapping  # key (str) -> FitResult, in the order fitted
    by: str  # the grouping column, or "target" for a multi-target fit
    targets: tuple | None = None  # a multi-target fit: the target columns (the keys), else None
    data: dict = field(default_factory=dict)  # the whole run log: source, n_rows, hash
    spec: Any = None  # the FitSpec every member was fitted with (a member's own adds its target)
    version: str = field(default_factory=lambda: __import__("scalefit").__version__)

    def __post_init__(self) -> None:
        if not self.fits or not all(isinstance(f, FitResult) for f in self.fits.values()):
            raise FitError("a FitSet holds one or more FitResults, keyed by group or target")
        object.__setattr__(self, "fits", freeze({str(k): f for k, f in self.fits.items()}))
        object.__setattr__(self, "data", freeze(dict(self.data)))
        if self.targets is not None:
            object.__setattr__(self, "targets", tuple(self.targets))

    # ---- the mapping ---------------------------------------------------------------------------------------
    def __getitem__(self, key: object) -> FitResult:
        if str(key) not in self.fits:
            what = (f"target {str(key)!r} in this fit; targets are {list(self.targets)}" if self.targets else
                    f"group {str(key)!r} in this fit; groups are {sorted(self.fits)}")
            raise FitError(f"no {what}")
        return self.fits[str(key)]

    def __contains__(self, key: object) -> bool:
        return str(key) in self.fits

    def __iter__(self) -> Iterator[str]:
        return iter(self.fits)

    def __len__(self) -> int:
        return len(self.fits)

    @property
    def law(self) -> str:
        """The law every member fits (its registry name)."""
        return next(iter(self.fits.values())).law

    # ---- prediction, report ----------------------------------------------------------------------------------
    def predict(self, inputs: Any, *, key: object | None = None) -> dict[str, np.ndarray] | np.ndarray:
        """Every member's prediction at ``inputs`` ({key: array}), or member ``key``'s (an array)."""
        if key is not None:
            return self[key].predict(inputs)
        return {k: f.predict(inputs) for k, f in self.items()}

    def report(self, *, level: float = 0.95) -> str:
        """Each member's report under a ``== by = key ==`` heading, then their warnings and calibrations."""
        head = (f"{self.law} fitted to {len(self.targets)} targets: {', '.join(self.targets)}" if self.targets
                else f"{self.law} fitted per {self.by!r} ({len(self)} groups)")
        from scalefit.fitting.report import format_report

        parts = [head] + [f"\n== {self.by} = {k} ==\n" + format_report(f, level=level) for k, f in self.items()]
        return "\n".join(parts + [n for k, f in self.items() for n in f.notes(f"{self.by} = {k}: ")])

    def __repr__(self) -> str:
        """Short: ``FitSet('chinchilla', by='dataset', keys=['a', 'b'])``; ``str(fits)`` is the report."""
        what = f"targets={list(self.targets)}" if self.targets else f"by={self.by!r}, keys={list(self)}"
        return f"FitSet({self.law!r}, {what})"

    # ---- serialisation ---------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """A plain JSON-ready dict: the members' fit dicts under ``groups``, keyed as fitted."""
        return {"schema": SCHEMA, "law": self.law, "group_by": self.by, "groups": {k: f.to_dict() for k, f in
                                                                                  self.items()},
                "targets": None if self.targets is None else list(self.targets), "data": thaw(self.data),
                "version": self.version, **({"spec": self.spec.to_dict()} if self.spec is not None else {})}

    @classmethod
    def from_dict(cls, d: Any, where: str = "") -> FitSet:
        """A FitSet from :meth:`to_dict`'s output, or from a grouped or multi-target fit file written before
        FitSet (schema ``scalefit.fit/1`` with ``groups``); every field checked (FitFileError naming it)."""
        at = f"{where}." if where else ""
        law = d.get("law") if isinstance(d, Mapping) else None  # every member's law, checked below
        if S.expect_schema(d, (SCHEMA, "scalefit.fit/1"), "a scalefit fit") != SCHEMA:  # the older grouped fit
            d = {k: d.get(k) for k in ("groups", "group_by", "targets", "data", "version", "spec")
                 if k in d or k in ("groups", "group_by")}
        else:
            d = {k: v for k, v in d.items() if k not in ("schema", "law")}
        f = S.expect_fields(d, where, {"group_by": S.expect_str, "groups": S.expect_mapping},
                            {"targets": S.optional(S.list_of(S.expect_str)), "data": S.expect_mapping,
                             "version": S.expect_str, "spec": S.optional(stored_spec)}, closed=True)
        fits = {str(k): fit_from_dict(g, f"{at}groups.{k}") for k, g in f["groups"].items()}
        if not fits or not all(isinstance(g, FitResult) for g in fits.values()):
            raise FitFileError(f"{at}groups: expected one or more single fits")
        if {g.law for g in fits.values()} != {law}:
            raise FitFileError(f"{at}groups: every fit of the set is of its law {law!r}; got "
                               f"{sorted({g.law for g in fits.values()})}")
        targets = f.get("targets")
        if targets is not None and set(targets) != set(fits):
            raise FitFileError(f"{at}targets: {targets} are not the fit's groups {sorted(fits)}")
        if targets is not None:
            fits = {t: fits[t] for t in targets}
        return cls(fits, f["group_by"], None if targets is None else tuple(targets), dict(f.get("data") or {}),
                   f.get("spec"), **({"version": f["version"]} if "version" in f else {}))


def member(result: FitResult | FitSet, key: object | None = None) -> FitResult:
    """The one fit to use: member ``key`` of a FitSet (required there), else the single fit itself."""
    if not isinstance(result, FitSet):
        return result
    if key is None:
        raise FitError(f"this fit has one law per target; say which target (--group, or fits[TARGET] in the library): "
                       f"one of {list(result.targets)}" if result.targets else
                       f"this fit is grouped by {result.by!r}; say which group: one of {sorted(result)}")
    return result[key]


def members(result: FitResult | FitSet) -> list[FitResult]:
    """Every fit ``result`` holds: a FitSet's members in order, or the single fit itself."""
    return list(result.values()) if isinstance(result, FitSet) else [result]


__all__ = ["SCHEMA", "TARGET_GROUP", "FitSet", "member", "members"]
