"""``scalefit fit ladder RUNS --loss-cols 'bpb_*' --acc-cols 'acc_*'``: the two-step model ladder.

A thin adapter from `scalefit fit`'s options to :func:`scalefit.planning.ladder.ladder`. Options:
``--loss-cols``/``--acc-cols`` (globs over a wide log, tasks paired by name; with ``--task-col COLUMN``, a long
log's two columns), ``--map N=COL --map D=COL``, ``--where``, ``--bootstrap`` (default 200 here: the intervals
need it), ``--seed``, the row options ``--run COLUMN`` (the run key), ``--skip-first F`` (each run's earliest
checkpoints left out of step 2; default 0.1 here), ``--reduce R`` (step 1's and the direct method's checkpoint
reducer, default last) and ``--smooth K`` (step 2's moving average of the accuracy) — the paper's settings are
``--reduce mean-last=5 --smooth 5`` — and ``--opt anchor=true`` (the ideal point L=0, Acc=1), ``chance=0.25``
(the accuracy floor), ``direct=true`` (fit the direct method, accuracy against compute), ``choose=true`` (per
task, the method that predicted the largest ladder size better), ``threshold=0.05`` (the triage's expected-error
threshold), ``target_n=N``, ``target_d=D`` (the model the figure marks).
"""

from __future__ import annotations

from scalefit.cli.fit_cmd import Procedure, register_procedure
from scalefit.cli.options import OptionError, opt_flag, opt_number, procedure_options

_ALLOWED = {"loss_cols", "acc_cols", "task", "anchor", "chance", "target_n", "target_d", "direct", "choose",
            "threshold"}
_ROWS = {"run", "skip_first", "reduce", "smooth"}  # the row options the ladder reads


@register_procedure("ladder")
def fit_ladder_procedure(call: Procedure):
    from scalefit.fitting import fit

    fitting = call.fitting
    opts = procedure_options(call, _ALLOWED, what="task losses and accuracies (--loss-cols/--acc-cols)",
                             group_by=False)
    if fitting.target is not None:
        raise OptionError("`scalefit fit ladder` takes its columns from --loss-cols and --acc-cols, not --target")
    missing = [f for f, k in (("--loss-cols", "loss_cols"), ("--acc-cols", "acc_cols")) if k not in opts]
    if missing:
        raise OptionError(f"`scalefit fit ladder` needs {' and '.join(missing)}, e.g. --loss-cols 'bpb_*' "
                          "--acc-cols 'acc_*' (or --task-col TASK --loss-cols LOSS --acc-cols ACC)")
    target = {s: opt_number(opts, f"target_{s.lower()}", None) for s in ("N", "D")}
    if (target["N"] is None) != (target["D"] is None):
        raise OptionError("give the target model with both --opt target_n=N and --opt target_d=D")
    rows = dict(call.rows)
    other = sorted(set(rows) - _ROWS)
    if other:
        flag = "--" + other[0].rstrip("s").replace("_", "-")
        raise OptionError(f"`scalefit fit ladder` takes --run, --skip-first, --reduce and --smooth, not {flag}; step 2 "
                          "uses the (L=0, Acc=1) anchor (--opt anchor=false to drop it)")
    return fit(
        "ladder", call.runs, loss_cols=str(opts["loss_cols"]), acc_cols=str(opts["acc_cols"]),
        task=None if opts.get("task") is None else str(opts["task"]), map=fitting.mapping, where=fitting.where,
        run=rows.get("run"), skip_first=rows.get("skip_first", 0.1),
        anchor=opt_flag(opts, "anchor", True), chance=opt_number(opts, "chance", None),
        reduce=rows.get("reduce"), smooth=rows.get("smooth"), direct=opt_flag(opts, "direct", True),
        choose=opt_flag(opts, "choose", True), threshold=opt_number(opts, "threshold", 0.05),
        bootstrap=fitting.bootstrap if fitting.bootstrap else 200, seed=fitting.seed,
        target=target if target["N"] is not None else None,
    )
