"""``scalefit plan fit.json --compute C``: compute-optimal allocation from a fitted law, with intervals."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo_json, handle_errors
from scalefit.planning.allocation import compute_optimal


def _fmt(row: dict, key: str) -> str:
    v = f"{row[key]:.4g}"
    return f"{v} [{row[key + '_lower']:.4g}, {row[key + '_upper']:.4g}]" if key + "_lower" in row else v


@app.command("plan")
@handle_errors
def plan_command(
    fit_json: Path = typer.Argument(..., help="A fit written by `scalefit fit --out`."),
    compute: list[float] = typer.Option(None, "--compute", help="Training compute budget in FLOPs (repeatable)."),
    group: str = typer.Option(None, "--group", help="Group of a grouped fit."),
    level: float = typer.Option(0.95, "--level", help="Interval level when the fit has a bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
    overtrain: str = typer.Option(None, "--overtrain", help="Also plan over-trained alternatives at these multiples "
                                  "of the optimal tokens per parameter, e.g. 2,4,8."),
    compare_schedules: bool = typer.Option(False, "--compare-schedules", help="lr-annealing fits: rank LR "
                                           "schedules (and WSD decay fractions) by predicted final loss."),
    steps: int = typer.Option(None, "--steps", help="--compare-schedules: updates in the budget."),
    peak_lr: float = typer.Option(None, "--peak-lr", help="--compare-schedules: peak learning rate."),
    decay_fracs: str = typer.Option(None, "--decay-fracs", help="--compare-schedules: WSD decay fractions to try "
                                    "(default 0.05,0.1,...,0.6)."),
    warmup_frac: float = typer.Option(0.05, "--warmup-frac", help="--compare-schedules: warmup fraction."),
    min_lr_ratio: float = typer.Option(0.1, "--min-lr-ratio", help="--compare-schedules: final LR / peak LR."),
    schedule_csv: list[Path] = typer.Option(None, "--schedule-csv", help="--compare-schedules: also a custom "
                                            "schedule (CSV of step,lr for every update), repeatable."),
    n_params: float = typer.Option(None, "--n-params", help="`fit hparams` files: model size N to plan lr and "
                                   "batch size for."),
    n_tokens: float = typer.Option(None, "--n-tokens", help="`fit hparams` files: training tokens D."),
    lr: float = typer.Option(None, "--lr", help="`fit hparams` files: price this learning rate (loss penalty)."),
    batch_size: float = typer.Option(None, "--batch-size", help="`fit hparams` files: price this batch size, in "
                                     "the fit's batch unit (tokens when fitted with seq_len)."),
) -> None:
    """Compute-optimal model size and tokens for a FLOP budget (C = 6ND), with intervals;
    or, with --compare-schedules, the best LR schedule for a number of updates (lr-annealing fits);
    or, with --n-params/--n-tokens, the learning rate and batch size for a target (`fit hparams` files)."""
    if n_params is not None or n_tokens is not None or lr is not None or batch_size is not None:
        from scalefit.cli.hparams_cmd import plan_hparams

        return plan_hparams(fit_json, n_params=n_params, n_tokens=n_tokens, lr=lr, batch=batch_size, level=level,
                            as_json=as_json)
    if compare_schedules:
        from scalefit.cli.curves_cmd import plan_schedules

        return plan_schedules(fit_json, steps=steps, peak_lr=peak_lr, decay_fracs=decay_fracs, warmup_frac=warmup_frac,
                              min_lr_ratio=min_lr_ratio, schedule_csv=schedule_csv, group=group, level=level,
                              as_json=as_json)
    if not compute:
        from scalefit.cli.options import OptionError

        raise OptionError("give a compute budget with --compute FLOPS (or --compare-schedules --steps N --peak-lr LR "
                          "for an lr-annealing fit)")
    from scalefit.fitting import FitResult
    from scalefit.planning.frontier import frontier_plan

    frontier = frontier_plan(fit_json, compute, level=level)  # an isoflop/envelope fit: its N*(C), D*(C)
    if frontier is not None:
        result, rows = frontier
        if overtrain:
            from scalefit.cli.options import OptionError

            raise OptionError("--overtrain needs a fitted loss law (chinchilla or overtrain), not a frontier fit")
        if as_json:
            echo_json({"method": result.method, "level": level, "compute_optimal": rows})
            return
        typer.echo(f"compute-optimal allocation from {result.method} power laws: "
                   f"N* = {result.k_N:.4g} C^{result.a:.4f}, D* = {result.k_D:.4g} C^{result.b:.4f}")
        for row in rows:
            typer.echo(f"C = {row['C']:.4g} FLOPs\n  N*        {_fmt(row, 'N_opt')} parameters\n"
                       f"  D*        {_fmt(row, 'D_opt')} tokens\n  D*/N*     {row['tokens_per_param']:.4g}")
        return
    fit = FitResult.load(fit_json)
    rows = compute_optimal(fit, compute, level=level, group=group)
    alt = None
    if overtrain:
        from scalefit.cli.options import OptionError
        from scalefit.planning.overtrain import overtrain_alternatives, overtrain_table

        try:
            multipliers = [float(v) for v in overtrain.split(",")]
        except ValueError:
            raise OptionError(f"--overtrain {overtrain!r}: give multiples of M* as numbers, e.g. 2,4,8") from None
        alt = overtrain_alternatives(fit, compute, multipliers, level=level, group=group)
    if as_json:
        echo_json({"law": fit.law, "level": level, "compute_optimal": rows,
                   **({"overtrain": alt} if alt is not None else {})})
        return
    pct = f"{100 * level:g}%"
    typer.echo(f"compute-optimal allocation ({fit.law}; C = 6ND; intervals {pct} bootstrap where available)")
    for row in rows:
        typer.echo(f"C = {row['C']:.4g} FLOPs")
        typer.echo(f"  N*        {_fmt(row, 'N_opt')} parameters")
        typer.echo(f"  D*        {_fmt(row, 'D_opt')} tokens")
        typer.echo(f"  D*/N*     {_fmt(row, 'tokens_per_param')} tokens per parameter")
        typer.echo(f"  loss      {_fmt(row, 'loss_opt')}")
    if alt is not None:
        typer.echo("\n" + overtrain_table(alt, level=level))
