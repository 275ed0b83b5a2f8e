"""What kind of result a file holds, and the one-line refusal of options that do not apply to it.

``predict`` and ``plan`` read any result file (``scalefit.load``) and choose what to do by its kind; an option
that belongs to another kind is refused, naming the option, the kinds it applies to and what to use instead:
``--compute applies to law and frontier fits; hp.json is a hyperparameter fit: use --n-params N --n-tokens D``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from scalefit.cli.options import OptionError

KINDS = ("law", "curve", "frontier", "hparams", "lr-transfer", "ladder")
_PLURAL = {"law": "law fits", "curve": "lr-annealing fits", "frontier": "frontier (isoflop/envelope) fits",
           "hparams": "hyperparameter fits", "lr-transfer": "LR-transfer fits", "ladder": "model ladders"}


def kind_of(result) -> str:
    """law | curve (an lr-annealing loss-curve fit) | frontier | hparams | lr-transfer."""
    from scalefit.fitting import FitResult
    from scalefit.fitting.fit_set import FitSet
    from scalefit.fitting.lr_transfer_result import LRTransferResult
    from scalefit.planning.frontier import FrontierResult
    from scalefit.planning.hparams import HparamFit
    from scalefit.planning.ladder_result import LadderResult

    if isinstance(result, LadderResult):
        return "ladder"
    if isinstance(result, (FitResult, FitSet)):
        return "curve" if result.law == "lr-annealing" else "law"
    for cls, name in ((FrontierResult, "frontier"), (HparamFit, "hparams"), (LRTransferResult, "lr-transfer")):
        if isinstance(result, cls):
            return name
    raise OptionError(f"{type(result).__name__} is not a result type this command knows")


def _refuse_selection(result, path: Path | str, command: str) -> None:
    """A selection file ranks laws; the fit to predict or plan with is its winner's, in its own file."""
    from scalefit.fitting.selection_result import SelectionResult

    if isinstance(result, SelectionResult):
        winner = next((e.get("law") for e in result.board if e.get("winner")), None)
        which = f" (the winner: {winner})" if winner else ""
        raise OptionError(f"{Path(path).name} is a law selection (`scalefit select`), not a fit: `scalefit {command}` "
                          f"takes the winner's fit{which}, which `scalefit select RUNS.csv --out fit.json` writes "
                          "(the library: SelectionResult.fit.save(\"fit.json\"))")


def describe(result, path: Path | str) -> str:
    """'fit.json is a law fit (chinchilla)', 'iso.json is an isoflop frontier' ..."""
    kind = kind_of(result)
    what = {
        "law": lambda: f"a law fit ({result.law}{', grouped by ' + result.by if hasattr(result, 'by') else ''})",
        "curve": lambda: "a loss-curve fit (lr-annealing)",
        "frontier": lambda: f"an {result.method} frontier",
        "hparams": lambda: "a hyperparameter fit",
        "lr-transfer": lambda: "an LR-transfer fit",
        "ladder": lambda: f"a model ladder (tasks {', '.join(result.tasks)})",
    }[kind]()
    return f"{Path(path).name} is {what}"


_MADE_BY = {"curve": "`scalefit fit lr-annealing`", "frontier": "`scalefit fit isoflop` or `scalefit fit envelope`",
            "hparams": "`scalefit fit hparams`", "lr-transfer": "`scalefit fit lr-transfer`",
            "ladder": "`scalefit fit ladder`"}


def _owners(name: str, allowed: Mapping[str, set[str]]) -> str:
    """'hyperparameter fits (made by `scalefit fit hparams`)', 'law and frontier (isoflop/envelope) fits' ..."""
    kinds = [k for k in KINDS if name in allowed.get(k, ())]
    if len(kinds) == 1:
        return _PLURAL[kinds[0]] + (f" (made by {_MADE_BY[kinds[0]]})" if kinds[0] in _MADE_BY else "")
    names = [_PLURAL[k] for k in kinds]
    return ", ".join(k.removesuffix(" fits") for k in names[:-1]) + " and " + names[-1] if names else "no result"


def refuse_other_options(result, path: Path | str, given: Mapping[str, str], allowed: Mapping[str, set[str]],
                         usage: Mapping[str, str], command: str, needs: Mapping[str, str] | None = None) -> str:
    """The result's kind; OptionError for the first option given that does not apply to it (``needs``: option
    name -> what it needs, said instead of the kinds it applies to)."""
    _refuse_selection(result, path, command)
    kind = kind_of(result)
    if kind not in allowed:
        raise OptionError(f"`scalefit {command}` does not apply to {describe(result, path).split(' is ', 1)[1]} "
                          f"({Path(path).name}): {usage.get(kind, 'see `scalefit ' + command + ' --help`')}")
    for name, flag in given.items():
        if name not in allowed[kind]:
            owner = (needs or {}).get(name) or f"applies to {_owners(name, allowed)}"
            raise OptionError(f"{flag} {owner}; {describe(result, path)}: use {usage[kind]}")
    return kind


__all__ = ["KINDS", "describe", "kind_of", "refuse_other_options"]
