"""``scalefit fit hparams RUNS.csv`` (optimal lr and batch laws) and ``scalefit fit lr-transfer RUNS.csv``.

Thin adapters from `scalefit fit`'s options to ``scalefit.planning.hparams`` and
``scalefit.planning.lr_transfer``; options come as ``--opt KEY=VALUE``:

hparams:     tol=0.0025 (band), fit_on=band|optimum, seq_len=2048|COLUMN (batch sequences -> tokens),
             refine_tol=0.01, surface=true|false, surface_tol=0.02, loo=true|false
lr-transfer: margin=0.25 (equivalence margin of the verdict, log2 lr per doubling of width),
             target_width=4096, initial_loss=5.545 (default ln 256 or an `initial_loss` column),
             half_window=2 (grid points each side of the minimum in the parabola); --bootstrap defaults
             to 1000 here (the per-width intervals and the slope interval need it)
"""

from __future__ import annotations

from dataclasses import dataclass

from scalefit.cli.common import echo
from scalefit.cli.fit_cmd import Procedure, register_procedure
from scalefit.cli.option_groups import option
from scalefit.cli.options import OptionError, opt_flag, opt_number, procedure_options

_ALLOWED = {
    "hparams": {"tol", "fit_on", "seq_len", "refine_tol", "surface", "surface_tol", "loo"},
    "lr-transfer": {"target_width", "initial_loss", "half_window", "margin"},
}


def _options(call: Procedure) -> dict:
    return procedure_options(call, _ALLOWED[call.name], group_by=False)


@register_procedure("hparams")
def fit_hparams_procedure(call: Procedure):
    from scalefit.fitting import fit

    fitting = call.fitting
    opts = _options(call)
    seq_len = opts.get("seq_len")
    if seq_len is not None and not isinstance(seq_len, str):
        seq_len = float(seq_len)
    return fit(
        "hparams", call.runs, target=fitting.target, map=fitting.mapping, where=fitting.where,
        tol=opt_number(opts, "tol", 0.0025),
        fit_on=str(opts.get("fit_on", "band")), seq_len=seq_len, refine_tol=opt_number(opts, "refine_tol", 0.01),
        surface=opt_flag(opts, "surface", True), surface_tol=opt_number(opts, "surface_tol", 0.02),
        loo=opt_flag(opts, "loo", True), bootstrap=fitting.bootstrap, seed=fitting.seed,
    )


@register_procedure("lr-transfer")
def fit_lr_transfer_procedure(call: Procedure):
    from scalefit.fitting import fit

    fitting = call.fitting
    opts = _options(call)
    half = opt_number(opts, "half_window", 2)
    if half != int(half):
        raise OptionError(f"--opt half_window={opts['half_window']}: give a whole number of grid points")
    return fit(
        "lr-transfer", call.runs, map=fitting.mapping, target=fitting.target, where=fitting.where,
        target_width=opt_number(opts, "target_width", None), initial_loss=opt_number(opts, "initial_loss", None),
        margin=opt_number(opts, "margin", 0.25),
        half_window=int(half), bootstrap=fitting.bootstrap if fitting.bootstrap else 1000, seed=fitting.seed,
    )


@dataclass(frozen=True)
class HparamOptions:
    """Hyperparameter fits: the target `scalefit plan` recommends lr and batch size for."""

    panel = "Hyperparameter fits"

    n_params: float = option(None, "--n-params", metavar="N", help="Hyperparameter fits: model size N to plan "
                             "lr and batch size for.")
    n_tokens: float = option(None, "--n-tokens", metavar="D", help="Hyperparameter fits: training tokens D.")
    lr: float = option(None, "--lr", help="Hyperparameter fits: price this learning rate (loss penalty).")
    batch_size: float = option(None, "--batch-size", help="Hyperparameter fits: price this batch size, in the "
                               "fit's batch unit (tokens when fitted with seq_len).")


def plan_hparams(hf, opts: HparamOptions, *, level: float, as_json: bool) -> None:
    """`scalefit plan HPARAMS.json --n-params N --n-tokens D [--lr LR] [--batch-size B]`."""

    from scalefit.cli.common import echo_json
    from scalefit.planning.hparam_plan import format_recommendation

    if opts.n_params is None or opts.n_tokens is None:
        raise OptionError("give the target with both --n-params N and --n-tokens D, "
                          "e.g. --n-params 1e9 --n-tokens 1e11")
    rec = hf.recommend(opts.n_params, opts.n_tokens, level=level, lr=opts.lr, batch=opts.batch_size)
    if as_json:
        echo_json(rec)
    else:
        echo(format_recommendation(rec))
