"""``scalefit plan RESULT.json``: what to train, chosen by the kind of result the file holds.

- a law fit (chinchilla, overtrain ...): compute-optimal N*, D* for ``--compute C`` (repeatable), with
  over-trained alternatives (``--overtrain 2,4,8``); every group of a grouped fit unless ``--group`` picks one;
- an isoflop/envelope frontier: N*, D* for ``--compute C`` from its power laws;
- an lr-annealing (loss-curve) fit: LR schedules ranked for ``--steps N --peak-lr LR`` (``--compare-schedules``);
- a hyperparameter fit: lr and batch size for ``--n-params N --n-tokens D`` (``--lr``/``--batch-size`` priced).

An option of another kind is refused in one line naming the option, the kinds it applies to and what to use.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.curves_cmd import ScheduleOptions, plan_schedules
from scalefit.cli.hparams_cmd import HparamOptions, plan_hparams
from scalefit.cli.option_groups import given_options, option, with_options
from scalefit.cli.options import OptionError, check_group

_COMMON = {"level", "as_json"}
ALLOWED = {
    "law": _COMMON | {"compute", "overtrain", "group"},
    "frontier": _COMMON | {"compute"},
    "curve": _COMMON | {"group", "compare_schedules", "steps", "peak_lr", "decay_fracs", "warmup_frac",
                        "min_lr_ratio", "schedule_csv"},
    "hparams": _COMMON | {"n_params", "n_tokens", "lr", "batch_size"},
}
USAGE = {
    "law": "--compute FLOPS [--overtrain 2,4,8]",
    "frontier": "--compute FLOPS",
    "curve": "--compare-schedules --steps N --peak-lr LR",
    "hparams": "--n-params N --n-tokens D [--lr LR] [--batch-size B]",
    "lr-transfer": "`scalefit predict FILE --at width=W` gives its lr* at a width",
}
NEEDS = {"overtrain": "needs a fitted loss law (a law fit such as chinchilla or overtrain)"}


@dataclass(frozen=True)
class AllocationOptions:
    """Law and frontier fits: the compute budgets to allocate."""

    panel = "Law and frontier fits"

    compute: list[float] = option(None, "--compute", metavar="FLOPS", help="Law and frontier fits: training "
                                  "compute budget in FLOPs (repeatable).")
    overtrain: str = option(None, "--overtrain", metavar="MULTIPLES", help="Law fits: also plan over-trained "
                            "alternatives at these multiples of the optimal tokens per parameter, e.g. 2,4,8.")


def _fmt(row: dict, key: str) -> str:
    v = f"{row[key]:.4g}"
    return f"{v} [{row[key + '_lower']:.4g}, {row[key + '_upper']:.4g}]" if key + "_lower" in row else v


def _plan_frontier(path: Path, compute: list[float], level: float, as_json: bool) -> None:
    from scalefit.planning.frontier import frontier_plan

    result, rows = frontier_plan(path, compute, level=level)
    if as_json:
        echo_json({"method": result.method, "level": level, "compute_optimal": rows})
        return
    echo(f"compute-optimal allocation from {result.method} power laws: "
               f"N* = {result.k_N:.4g} C^{result.a:.4f}, D* = {result.k_D:.4g} C^{result.b:.4f}")
    for row in rows:
        echo(f"C = {row['C']:.4g} FLOPs\n  N*        {_fmt(row, 'N_opt')} parameters\n"
                   f"  D*        {_fmt(row, 'D_opt')} tokens\n  D*/N*     {row['tokens_per_param']:.4g}")


def _allocation(fit, compute: list[float], multipliers: list[float] | None, level: float) -> dict:
    from scalefit.planning.allocation import compute_optimal
    from scalefit.planning.overtrain import overtrain_alternatives

    plan = {"compute_optimal": compute_optimal(fit, compute, level=level)}
    if multipliers is not None:
        plan["overtrain"] = overtrain_alternatives(fit, compute, multipliers, level=level)
    return plan


def _echo_allocation(plan: dict, level: float) -> None:
    from scalefit.planning.overtrain import overtrain_table

    for row in plan["compute_optimal"]:
        echo(f"C = {row['C']:.4g} FLOPs")
        echo(f"  N*        {_fmt(row, 'N_opt')} parameters")
        echo(f"  D*        {_fmt(row, 'D_opt')} tokens")
        echo(f"  D*/N*     {_fmt(row, 'tokens_per_param')} tokens per parameter")
        echo(f"  loss      {_fmt(row, 'loss_opt')}")
    if "overtrain" in plan:
        echo("\n" + overtrain_table(plan["overtrain"], level=level))


def _plan_law(fit, opts: AllocationOptions, group: str | None, level: float, as_json: bool) -> None:
    """Compute-optimal allocation (and over-trained alternatives) for each budget; per group when grouped."""
    multipliers = None
    if opts.overtrain:
        try:
            multipliers = [float(v) for v in opts.overtrain.split(",")]
        except ValueError:
            raise OptionError(f"--overtrain {opts.overtrain!r}: give multiples of M* as numbers, e.g. 2,4,8") from None
    from scalefit.fitting.fit_set import member

    check_group(fit, group)
    every = hasattr(fit, "by") and group is None  # every member of a FitSet
    plans = {g: _allocation(member(fit, g), opts.compute, multipliers, level) for g in (fit if every else [group])}
    if as_json:
        body = {"group_by": fit.by, "groups": plans} if every else plans[group]
        echo_json({"law": fit.law, "level": level, **body})
        return
    echo(f"compute-optimal allocation ({fit.law}; C = 6ND; {100 * level:g}% bootstrap intervals where "
               "available: mean intervals, the uncertainty of the fitted law, not of a run)")
    for g, plan in plans.items():
        if every:
            echo(f"\n{fit.by} = {g}")
        _echo_allocation(plan, level)


@app.command("plan")
@handle_errors
@with_options(allocation=AllocationOptions, schedules=ScheduleOptions, hparams=HparamOptions)
def plan_command(
    ctx: typer.Context,
    fit_json: Path = typer.Argument(..., metavar="RESULT.json", help="A result file written by `scalefit fit "
                                    "--out` (any kind but lr-transfer)."),
    group: str = typer.Option(None, "--group", help="Law and lr-annealing fits: plan one group of a grouped fit "
                              "(default: every group)."),
    level: float = typer.Option(0.95, "--level", help="Interval level when the fit has a bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    allocation: AllocationOptions = None,
    schedules: ScheduleOptions = None,
    hparams: HparamOptions = None,
) -> None:
    """Plan from any result file, by its kind: compute-optimal N and D for a FLOP budget (law and frontier
    fits, --compute), the best LR schedule (lr-annealing fits, --steps/--peak-lr), or the learning rate and batch
    size for a target (hyperparameter fits, --n-params/--n-tokens)."""
    from scalefit.cli.result_kinds import describe, refuse_other_options
    from scalefit.results import load

    result = load(fit_json)
    kind = refuse_other_options(result, fit_json, given_options(ctx), ALLOWED, USAGE, "plan", NEEDS)
    if kind == "hparams":
        return plan_hparams(result, hparams, level=level, as_json=as_json)
    if kind == "curve":
        return plan_schedules(result, schedules, group=group, level=level, as_json=as_json)
    if not allocation.compute:
        raise OptionError(f"give a compute budget with --compute FLOPS, e.g. --compute 1e24 "
                          f"({describe(result, fit_json)})")
    if kind == "frontier":
        return _plan_frontier(fit_json, allocation.compute, level, as_json)
    return _plan_law(result, allocation, group, level, as_json)
