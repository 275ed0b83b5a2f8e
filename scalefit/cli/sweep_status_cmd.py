"""``scalefit sweep-status DIR``: what a sweep folder holds (``scalefit sweep status DIR`` still works for a
release, with a note)."""

from __future__ import annotations

from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors


@app.command("sweep-status")
@handle_errors
def sweep_status_command(
    folder: Path = typer.Argument(..., metavar="DIR", help="A sweep folder (`scalefit sweep --out DIR`)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    """Summarise a sweep folder: runs ok / diverged / failed / pending, their messages, the lowest loss."""
    from scalefit.sweeps.store import sweep_status

    st = sweep_status(folder)
    tasks, queue_error = _slurm_tasks(folder)
    if as_json:
        echo_json({**st.to_dict(), "slurm": [t.to_dict() for t in tasks]})
        return
    counts = ", ".join(f"{n} {k}" for k, n in st.counts.items())
    echo(f"{st.name} ({st.source}): {st.planned} runs planned: {counts}; {st.wall_s / 60:.1f} min of run time")
    if st.checkpoints:
        echo(f"checkpoints: {st.checkpoints} using {st.checkpoint_bytes / 2**20:.1f} MiB")
    if st.best:
        b = st.best
        echo(f"lowest loss: {b['loss']:.4f} ({b['run_id']}, N={b['n_params']:,}, D={b['n_tokens']:,})")
    for rid, msg in st.messages.items():
        echo(f"  {rid}: {msg}")
    if queue_error:
        echo(f"slurm: cannot read the queue ({queue_error})")
    if tasks:
        running = sum(t.state == "RUNNING" for t in tasks)
        echo(f"slurm: {running} running, {len(tasks) - running} queued")
        for t in tasks:
            echo(f"  {t.task_id:<10} {t.state:<8} run {t.run_id}" + (f" ({t.reason})" if t.reason else ""))
    if st.counts.get("pending"):
        echo("resume with the same sweep command; finished runs are skipped")


def _slurm_tasks(folder: Path) -> tuple[list, str | None]:
    """The sweep's Slurm tasks still queued or running, and why the queue could not be read (if so)."""
    from scalefit.errors import SweepError
    from scalefit.sweeps.slurm_jobs import slurm_jobs

    try:
        return slurm_jobs(folder), None
    except SweepError as exc:
        return [], str(exc)
