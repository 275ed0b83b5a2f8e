"""One result protocol and one loader for every kind of scalefit result.

Every outcome of a fit or procedure — a law fit (``FitResult``; loss-curve fits included), a grouped or
multi-target fit (``FitSet``: key -> FitResult), an IsoFLOP/envelope frontier (``FrontierResult``), a
hyperparameter fit (``HparamFit``), an LR-transfer result (``LRTransferResult``) — is immutable data with the same
methods (``str(result)`` is its report, and a notebook shows it too):

    report() -> str              a human-readable summary
    to_dict() / from_dict(d)     a plain JSON-ready dict tagged with its ``schema``, and back (validated)
    save(path) / load(path)      the schema-tagged JSON file, written atomically; read and validated
    plot(runs=None, *, ax=None)  its figure (``scalefit.plotting.plot_result``)
    predict(...)                 where it predicts: the law's target, N*/D* at C, lr*/B* at (N, D), lr* at a width

``scalefit.load(path)`` reads a result file once, picks the type by its ``schema`` tag (the registry below) and
validates it; a result file is data, never code. Types are imported when first needed.
"""

from __future__ import annotations

from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from scalefit.errors import FitFileError

# schema tag -> "module:Class" of the result type that reads it
RESULT_TYPES: dict[str, str] = {
    "scalefit.fit/1": "scalefit.fitting.result:FitResult",  # a grouped fit's file from before FitSet: a FitSet
    "scalefit.fitset/1": "scalefit.fitting.fit_set:FitSet",
    "scalefit.isoflop/1": "scalefit.planning.frontier:FrontierResult",
    "scalefit.envelope/1": "scalefit.planning.frontier:FrontierResult",
    "scalefit.hparams/1": "scalefit.planning.hparams:HparamFit",
    "scalefit.lr-transfer/1": "scalefit.fitting.lr_transfer_result:LRTransferResult",
    "scalefit.select/1": "scalefit.fitting.selection_result:SelectionResult",
    "scalefit.ladder/1": "scalefit.planning.ladder_result:LadderResult",
    "scalefit.ladder/2": "scalefit.planning.ladder_result:LadderResult",
}


@runtime_checkable
class Result(Protocol):
    """What every scalefit result implements (``predict`` too, where the result predicts)."""

    def report(self) -> str: ...

    def to_dict(self) -> dict: ...

    def save(self, path: str | Path) -> Path: ...

    def plot(self, runs: Any = None, *, ax: Any = None, **options: Any) -> Any: ...


class ResultFile:
    """``to_json``, ``save`` and ``load`` for a result type with ``to_dict``/``from_dict``: its file is the
    schema-tagged JSON of ``to_dict()``, written atomically, and ``load`` reads and validates it once.
    ``FILE_KIND`` ("ladder file") and ``FILE_HINT`` (with ``{path}``) say in load's errors what the file is and
    how to make one."""

    FILE_KIND: ClassVar[str] = "fit file"
    FILE_HINT: ClassVar[str] = "create one with `scalefit fit LAW RUNS.csv --out {path}`"

    def to_json(self) -> str:
        from scalefit._io import dumps_strict

        return dumps_strict(self.to_dict())  # type: ignore[attr-defined]

    def save(self, path: str | Path) -> Path:
        from scalefit._io import write_text_atomic

        return write_text_atomic(path, self.to_json() + "\n")

    @classmethod
    def load(cls, path: str | Path) -> Any:
        from scalefit._schema import load_result

        return load_result(path, cls.from_dict, what=cls.FILE_KIND,  # type: ignore[attr-defined]
                           hint=cls.FILE_HINT.format(path=path))

    @classmethod
    def from_json(cls, text: str) -> Any:
        """The result in ``to_json()``'s text, every field checked."""
        from scalefit._schema import parse_json

        return cls.from_dict(parse_json(text, f"{cls.FILE_KIND} JSON"))  # type: ignore[attr-defined]

    def __str__(self) -> str:
        """The report (``report()``); ``repr`` stays short."""
        return self.report()  # type: ignore[attr-defined]

    def _repr_html_(self) -> str:
        """The report in a notebook."""
        import html

        return f"<pre>{html.escape(str(self))}</pre>"

    def plot(self, runs: Any = None, *, ax: Any = None, **options: Any) -> Any:
        """Its figure (:func:`scalefit.plotting.plot_result`, which reads the result; this is the one place a
        result reaches plotting, on first use); returns the Figure."""
        from scalefit.plotting.result import plot_result

        return plot_result(self, runs, ax=ax, **options)


def result_type(schema: object) -> type:
    """The result class for a ``schema`` tag; FitFileError naming the known tags otherwise."""
    if not isinstance(schema, str) or schema not in RESULT_TYPES:
        raise FitFileError(f"schema {schema!r} is not a scalefit result; known: {', '.join(RESULT_TYPES)}")
    module, name = RESULT_TYPES[schema].split(":")
    return getattr(import_module(module), name)


def from_dict(d: Any) -> Result:
    """The result a ``to_dict()`` dict describes, of the type its ``schema`` names, every field checked."""
    if not isinstance(d, dict):
        raise FitFileError(f"expected a JSON object with a 'schema' tag, got {type(d).__name__}")
    return result_type(d.get("schema")).from_dict(d)


def load(path: str | Path) -> Result:
    """Read any scalefit result file (fit, isoflop/envelope, hparams, lr-transfer), once, validated."""
    from scalefit._schema import load_result

    return load_result(path, from_dict, what=ResultFile.FILE_KIND, hint=ResultFile.FILE_HINT.format(path=path))


__all__ = ["RESULT_TYPES", "Result", "ResultFile", "from_dict", "load", "result_type"]
