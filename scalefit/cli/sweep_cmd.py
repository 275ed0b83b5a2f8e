"""``scalefit sweep SPEC.toml | --preset NAME``: run a resumable sweep (``scalefit sweep-status DIR`` reads one).

torch is imported only by the workers (and to count GPUs), so ``--dry-run`` stays light.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.option_groups import option, with_options
from scalefit.errors import SweepError, SweepInterrupted

HELP = (
    "Run a sweep of proxy runs, resumably: SPEC.toml or --preset NAME, into --out (default runs/NAME).\n\n"
    "Finished runs (a result.json in OUT/RUN_ID/) are skipped, so re-running an interrupted sweep completes "
    "only what is missing. After each run OUT/runs.csv and OUT/curves.csv are rewritten. A folder holds one "
    "spec's runs (--add-runs adds another's) and one running sweep at a time (OUT/.lock). Ctrl-C or SIGTERM "
    "stops the workers and writes the tables; re-run the same command to resume.\n\n"
    "`scalefit sweep-status DIR` summarises a sweep folder. `scalefit sweep --list` lists the presets."
)


def _parse_sets(items: list[str]) -> dict[str, Any]:
    from scalefit.proxy.config import parse_set
    from scalefit.sweeps.spec import SWEEP_KEYS, check_key

    out: dict[str, Any] = {}
    for item in items:
        key, _, text = item.partition("=")
        key = key.strip().replace("-", "_")
        check_key(key, "--set")
        if key in SWEEP_KEYS:
            if key == "shape":
                raise SweepError("--set shape is not supported; set width and depth, or edit the spec")
            try:
                out[key] = float(text)
            except ValueError:
                raise SweepError(f"--set {item}: {key} must be a number") from None
        else:
            out.update(parse_set([item]))
    return out


def _load(spec_path: str | None, preset: str | None, sets: list[str]):
    from scalefit.sweeps.presets import get_preset
    from scalefit.sweeps.spec import load_spec, with_overrides

    if (spec_path is None) == (preset is None):
        raise SweepError("give a spec file or --preset NAME (one of them); `scalefit sweep --list` lists presets")
    spec = get_preset(preset) if preset else load_spec(spec_path)
    overrides = _parse_sets(sets)
    return with_overrides(spec, overrides) if overrides else spec


def _estimate_device(spec, device: str | None) -> str:
    fixed = device or spec.fixed.get("device", "auto")
    if fixed == "auto":
        from scalefit.sweeps.executors import gpu_count

        return "cuda" if gpu_count() > 0 else "cpu"
    return fixed


def _fmt_axes(axes: dict[str, Any]) -> str:
    return " ".join(f"{k}={'x'.join(map(str, v)) if isinstance(v, tuple) else f'{v:g}' if isinstance(v, float) else v}"
                    for k, v in axes.items())  # fmt: skip


def _dry_run(spec, out: str | Path, device: str, workers: int, as_json: bool) -> None:
    from scalefit.sweeps.estimate import DEVICE_MODELS, corpus_tokens, estimate_seconds
    from scalefit.sweeps.runner import plan_sweep

    sweep_dir, runs = plan_sweep(spec, out)
    sizes = corpus_tokens(runs)
    rows = []
    for r in runs:
        c = r.config
        epochs = r.n_tokens / sizes[c.corpus] if c.corpus in sizes else None
        rows.append({
            "run_id": r.run_id, "where": r.where, "axes": _fmt_axes(r.axes), "width": c.width, "depth": c.depth,
            "n_params": r.n_params, "n_tokens": r.n_tokens, "M": r.n_tokens / r.n_params, "flops": r.flops,
            "lr": c.lr, "batch_size": c.batch_size, "parametrization": c.parametrization, "schedule": c.schedule,
            "seed": c.seed, "epochs": epochs, "estimate_s": estimate_seconds(c, device, branch=bool(r.trunk)),
        })  # fmt: skip
    total = sum(r["estimate_s"] for r in rows)
    wall = max(total / workers, max((r["estimate_s"] for r in rows), default=0.0))  # the longest run bounds it
    if as_json:
        echo_json({"name": sweep_dir.name, "out": str(sweep_dir), "device": device, "workers": workers,
                   "estimate_total_s": total, "estimate_wall_s": wall, "runs": rows})  # fmt: skip
        return
    echo(f"{spec.source}: {spec.description}" if spec.description else spec.source)
    echo(f"{len(rows)} runs -> {out}")
    echo(f"{'run_id':<13}{'width':>6}{'depth':>6}{'N':>12}{'D':>15}{'M':>8}{'C (FLOPs)':>11}{'lr':>9}"
               f"{'B':>5}  {'param':<5} {'schedule':<9}{'est':>7}  grid")  # fmt: skip
    for r in rows:
        echo(
            f"{r['run_id']:<13}{r['width']:>6}{r['depth']:>6}{r['n_params']:>12,}{r['n_tokens']:>15,}{r['M']:>8.1f}"
            f"{r['flops']:>11.3g}{r['lr']:>9.3g}{r['batch_size']:>5}  {r['parametrization']:<5} {r['schedule']:<9}"
            f"{r['estimate_s']:>6.0f}s  {r['where']} {r['axes']}"
        )
    model = DEVICE_MODELS["cuda" if device == "cuda" else "cpu"]
    basis = "one idle core per worker" if model.measured else "ASSUMED GPU throughput, not measured"
    echo(f"total: {sum(r['flops'] for r in rows):.3g} FLOPs; estimated {total / 60:.1f} min of {device} "
               f"worker time, about {wall / 60:.1f} min with {workers} worker{'s' * (workers != 1)} "
               f"({basis})")  # fmt: skip
    heavy = [r for r in rows if r["epochs"] and r["epochs"] > 1]
    if heavy:
        worst = max(r["epochs"] for r in heavy)
        echo(f"note: {len(heavy)} runs see their corpus more than once (up to {worst:.1f} epochs); "
                   "a larger corpus (--set corpus=PATH) avoids repetition effects")  # fmt: skip


@dataclass(frozen=True)
class SlurmOptions:
    """--executor slurm: where and how each run is submitted (submitit)."""

    panel = "Slurm"

    partition: str = option(None, "--partition", help="Slurm partition.")
    time_min: int = option(None, "--time", help="Slurm time limit per run, minutes (default: 60, or the "
                           "partition's limit if shorter).")  # fmt: skip
    gpus_per_task: int = option(None, "--gpus-per-task", help="Slurm GPUs per run (default: 1 on a partition "
                                "with GPUs, else 0).")  # fmt: skip
    cpus_per_task: int = option(None, "--cpus-per-task", help="Slurm CPUs per run (default: 8, or the node's "
                                "CPUs if fewer).")  # fmt: skip
    mem_gb: float = option(None, "--mem-gb", help="Slurm memory per run, GB (default: node memory / runs per "
                           "node).")  # fmt: skip
    array_parallelism: int = option(64, "--array-parallelism", help="Slurm array tasks at once.")
    account: str = option(None, "--account", help="Slurm account.")
    setup: list[str] = option(None, "--slurm-setup", metavar="LINE", help="Shell line run before each task "
                              "(repeatable).")  # fmt: skip
    slurm_opts: list[str] = option(None, "--slurm-opt", metavar="KEY=VALUE", help="Extra sbatch option.")
    cluster: str = option(None, "--submitit-cluster", help="submitit cluster: slurm (default) or local "
                          "(submitit's local executor, for testing).")  # fmt: skip

    def executor(self, threads: int | None):
        from scalefit.sweeps.executors import SlurmExecutor

        extra = dict(item.split("=", 1) for item in self.slurm_opts or [] if "=" in item)
        if len(extra) != len(self.slurm_opts or []):
            raise SweepError("--slurm-opt expects KEY=VALUE")
        return SlurmExecutor(partition=self.partition, time_min=self.time_min, gpus_per_task=self.gpus_per_task,
                             cpus_per_task=self.cpus_per_task, mem_gb=self.mem_gb,
                             array_parallelism=self.array_parallelism, account=self.account,
                             setup=list(self.setup or []), extra=extra, cluster=self.cluster,
                             poll_s=1.0 if self.cluster == "local" else 5.0, threads=threads or 0)  # fmt: skip


@dataclass(frozen=True)
class LocalOptions:
    """--executor local: how many runs at once on this machine."""

    workers: int = option(None, "--workers", "-w", help="Local processes (default: GPUs x runs-per-gpu, or "
                          "cores); 0: in this process.")  # fmt: skip
    runs_per_gpu: int = option(1, "--runs-per-gpu", help="Local: concurrent runs per GPU.")
    threads: int = option(None, "--threads", help="Torch threads per worker (default: cores / workers).")
    batch_runs: int = option(None, "--batch-runs", help="Train up to K runs of one shape as one batched model "
                             "(1: off; default: 1 on CPU, by model size on a GPU).")  # fmt: skip


def _executor(spec, name: str, local: LocalOptions, slurm: SlurmOptions, device: str | None, dry_run: bool):
    """(executor, number of workers, device the estimate assumes)."""
    est_device = _estimate_device(spec, device)
    for flag, value, least in (("--threads", local.threads, 0), ("--workers", local.workers, 0),
                               ("--runs-per-gpu", local.runs_per_gpu, 1)):
        if value is not None and value < least:
            raise SweepError(f"{flag} must be >= {least}, got {value}")
    if name not in ("local", "slurm"):
        raise SweepError(f"unknown executor {name!r}; use local or slurm")
    if name == "slurm":
        if local.batch_runs not in (None, 1):
            raise SweepError("--batch-runs is for the local executor; Slurm runs each run as its own task")
        return _slurm_executor(spec, slurm, local, device, dry_run, est_device)
    if local.batch_runs is not None and local.batch_runs < 1:
        raise SweepError(f"--batch-runs must be at least 1, got {local.batch_runs}")
    if local.workers == 0:
        from scalefit.sweeps.executors import SerialExecutor

        return SerialExecutor(threads=local.threads or 0, batch_runs=local.batch_runs), 1, est_device
    from scalefit.sweeps.executors import LocalExecutor

    ex = LocalExecutor(workers=local.workers, device=device or spec.fixed.get("device", "auto"),
                       runs_per_gpu=local.runs_per_gpu, threads=local.threads,
                       batch_runs=local.batch_runs)  # fmt: skip
    n_workers = len(ex.plan()[0]) if not (dry_run and est_device == "cuda") else (local.workers or 1)
    return ex, n_workers, est_device


def _slurm_executor(spec, slurm: SlurmOptions, local: LocalOptions, device, dry_run: bool, est_device: str):
    """The Slurm executor with its resources read from the partition (printed), and the device to estimate."""
    ex = slurm.executor(local.threads)
    try:
        res = ex.resources()
    except SweepError:
        if not dry_run:
            raise
        res = None  # a dry run away from the cluster: estimate on the CPU
    if res is not None and slurm.cluster in (None, "slurm"):
        echo(f"slurm: {res.describe()}", err=True)
    if device is None and spec.fixed.get("device", "auto") == "auto":  # the jobs run on the cluster's nodes
        est_device = "cuda" if res is not None and res.gpus_per_task > 0 else "cpu"
    return ex, slurm.array_parallelism, est_device


def _run(spec, out, ex, n_workers: int, est_device: str, *, retry_failed: bool, add_runs: bool,
         progress: bool | None, as_json: bool) -> None:
    from scalefit.cli.sweep_progress import SweepProgress
    from scalefit.sweeps.runner import run_sweep

    show = None if as_json else SweepProgress(Path(out).name, n_workers, live=progress)
    with _interrupts() as received:
        try:
            summary = run_sweep(spec, out, executor=ex, retry_failed=retry_failed, add_runs=add_runs, on_event=show,
                                estimate_device=est_device)  # fmt: skip
        except KeyboardInterrupt as exc:  # SweepInterrupted once the sweep has started; SIGTERM arrives as one too
            finished = exc.finished if isinstance(exc, SweepInterrupted) else 0
            jobs = tuple(getattr(exc, "cancelled_jobs", ()))
            _close(show)
            echo(f"interrupted: cancelled Slurm job {', '.join(jobs)}; {finished} runs finished, re-run the same "
                       "command to resume (finished runs are kept, only the missing ones are submitted)" if jobs else
                       f"interrupted: {finished} runs finished, re-run the same command to resume", err=True)
            raise SystemExit(128 + received[-1]) from None
        finally:
            _close(show)
    if as_json:
        echo_json({"sweep_dir": str(summary.sweep_dir), "planned": summary.planned, "skipped": summary.skipped,
                   "executed": summary.executed, "counts": summary.counts, "wall_s": summary.wall_s})  # fmt: skip
        return
    counts = ", ".join(f"{n} {k}" for k, n in summary.counts.items())
    if getattr(summary, "lost", None):
        echo(f"{len(summary.lost)} runs were stopped by Slurm before they finished (cancelled, preempted, node "
                   "failure); re-run the same command to run them again", err=True)
    echo(f"{summary.sweep_dir.name}: ran {len(summary.executed)} runs in {summary.wall_s / 60:.1f} min "
               f"({summary.skipped} already done); {counts} -> {summary.sweep_dir / 'runs.csv'}")  # fmt: skip


@app.command("sweep", help=HELP)
@handle_errors
@with_options(local=LocalOptions, slurm=SlurmOptions)
def sweep_command(
    spec_path: str = typer.Argument(None, metavar="SPEC.toml", show_default=False, help="Sweep spec (or --preset)."),
    preset: str = typer.Option(None, "--preset", help="Built-in sweep (see --list)."),
    out: str = typer.Option(None, "--out", "-o", help="Sweep folder (default runs/NAME); it holds one spec's runs."),
    dry_run: bool = typer.Option(False, "--dry-run", "-n", help="Print the expanded runs with N, D, FLOPs, time."),
    executor: str = typer.Option("local", "--executor", "-e", help="local (process pool) or slurm (submitit)."),
    local: LocalOptions = None,
    device: str = typer.Option(None, "--device", help="auto, cpu or cuda (default: the spec's, else auto)."),
    sets: list[str] = typer.Option([], "--set", "-s", metavar="KEY=VALUE", help="Set a fixed option of every run."),
    log: str = typer.Option(None, "--log", metavar="TRACKERS", help="Log every run to tensorboard, mlflow and/or "
                            "wandb (comma-separated; the sweep as one group; W&B offline unless WANDB_MODE=online)."),
    retry_failed: bool = typer.Option(False, "--retry-failed", help="Also re-run runs recorded as failed."),
    add_runs: bool = typer.Option(False, "--add-runs", help="Add this spec's runs to a --out folder that holds "
                                  "another spec's runs (runs.csv keeps every row)."),  # fmt: skip
    list_presets: bool = typer.Option(False, "--list", help="List the presets and exit."),
    show_spec: bool = typer.Option(False, "--show-spec", help="Print the spec as TOML (to copy and edit) and exit."),
    progress: bool = typer.Option(None, "--progress/--no-progress", help="Live progress bar (default: on a tty)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (dry run, summary)."),
    slurm: SlurmOptions = None,
) -> None:
    from scalefit.sweeps.presets import list_presets as presets

    if list_presets:
        listed = presets()
        pad = max(map(len, listed)) + 2  # a column as wide as the longest name, whatever presets are added
        for name, doc in listed.items():
            echo(f"{name:<{pad}}{doc}")
        return
    spec = _load(spec_path, preset, [*sets, f"log={log}"] if log is not None else sets)
    if device is not None:
        spec = _with_device(spec, device)
    if show_spec:
        from scalefit.sweeps.spec import spec_to_toml

        echo(spec_to_toml(spec), nl=False)
        return
    out = Path("runs") / spec.name if out is None else out
    ex, n_workers, est_device = _executor(spec, executor, local, slurm, device, dry_run)
    if dry_run:
        _dry_run(spec, out, est_device, n_workers, as_json)
        return
    _run(spec, out, ex, n_workers, est_device, retry_failed=retry_failed, add_runs=add_runs, progress=progress,
         as_json=as_json)


@contextmanager
def _interrupts() -> Iterator[list[int]]:
    """Turn SIGINT and SIGTERM into KeyboardInterrupt for the block; yields the signals received (SIGINT last
    by default). Later signals are ignored while the sweep stops its workers and writes its tables."""
    received = [int(signal.SIGINT)]

    def handler(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        received.append(signum)
        raise KeyboardInterrupt

    try:
        old = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave the signals alone
        yield received
        return
    try:
        yield received
    finally:
        for sig, prev in old.items():
            signal.signal(sig, prev)


def _close(show) -> None:
    if show is not None:
        show.close()


def _with_device(spec, device: str):
    from scalefit.sweeps.spec import with_overrides

    if device not in ("auto", "cpu", "cuda"):
        raise SweepError(f"unknown device {device!r}; use auto, cpu or cuda")
    return with_overrides(spec, {"device": device})
