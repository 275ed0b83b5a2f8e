"""Mid-run checkpoints of one proxy run, and exact resume from them.

A checkpoint is ``<run_dir>/checkpoint.pt``, written atomically (temp file + rename, ``_io.atomic_path``) by rank 0
after a step: the full (unsharded) model and optimizer state under their parameter names
(``torch.distributed.checkpoint.state_dict``, so a checkpoint of a 2-device FSDP run resumes on 1 device and
back), the step, the data position (the batch generator's state: every rank draws the same global batches), the
torch RNG states, the training-loss window, the curve rows so far and the clock. The run resumes after that step
with the same batches, learning rates and optimizer state, so its curve has every step once and, in fp32 with
deterministic algorithms, ends at the uninterrupted run's loss.

When: every ``checkpoint_every`` steps, every ``checkpoint_minutes`` of wall time, and on a stop signal
(``stop_on``: Slurm's warning before the time limit, preemption), after which the run raises ``RunInterrupted``.
A checkpoint of another config (the fields that define what the run computes) or another scalefit version or
checkpoint format is refused with a ``CheckpointError`` before anything is written. The finished run deletes its
checkpoint unless ``keep_checkpoints``.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import torch

from scalefit._io import atomic_path
from scalefit.errors import CheckpointError
from scalefit.proxy.config import EXECUTION_FIELDS, TrainConfig
from scalefit.proxy.paths import CHECKPOINT_FILE
from scalefit.proxy.paths import checkpoint_usage as disk_usage

__all__ = ["FILE", "FORMAT", "STOP_SIGNALS", "Checkpoints", "disk_usage", "identity", "load", "stop_on",
           "stop_requested"]  # fmt: skip

FILE = CHECKPOINT_FILE
FORMAT = 1  # layout of the checkpoint's dict; a change refuses older checkpoints
STOP_SIGNALS = (signal.SIGUSR1, signal.SIGUSR2)  # what `sbatch --signal` sends before the time limit (and submitit)
_STOP: dict[str, int] = {"signal": 0}  # the stop signal received (0: none)


def stop_on(*signums: int) -> None:
    """Checkpoint after the current step and stop (``RunInterrupted``) when one of ``signums`` arrives (default
    ``STOP_SIGNALS``); main thread only."""
    signums = signums or STOP_SIGNALS

    def handler(signum: int, frame: Any) -> None:
        _STOP["signal"] = signum

    _STOP["signal"] = 0
    for signum in signums:
        signal.signal(signum, handler)


def stop_requested() -> bool:
    return _STOP["signal"] != 0


def identity(cfg: TrainConfig) -> dict[str, Any]:
    """What a checkpoint must match to resume ``cfg``: format, scalefit version and the computing config fields."""
    from scalefit import __version__

    config = {k: v for k, v in cfg.to_dict().items() if k not in EXECUTION_FIELDS}
    return {"format": FORMAT, "scalefit": __version__, "config": config}


def _mismatch(saved: dict[str, Any], want: dict[str, Any]) -> str:
    if saved.get("format") != want["format"]:
        return f"checkpoint format {saved.get('format')!r}, this scalefit writes {want['format']}"
    if saved.get("scalefit") != want["scalefit"]:
        return f"written by scalefit {saved.get('scalefit')}, this is {want['scalefit']}"
    old, new = saved.get("config") or {}, want["config"]
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    if keys:
        k = keys[0]
        return f"from another config ({k} = {old.get(k)!r} there, {new.get(k)!r} here" + (
            f", and {len(keys) - 1} more)" if len(keys) > 1 else ")"
        )
    return ""


def load(run_dir: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    """The run's checkpoint (checked against ``cfg``), or None when there is none; CheckpointError when it is not
    this run's. Temp files of a write that was killed are removed."""
    path = run_dir / FILE
    for tmp in run_dir.glob(f".{FILE}.*.tmp"):
        tmp.unlink(missing_ok=True)
    if not path.exists():
        return None
    try:
        data = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the same one-line refusal
        raise CheckpointError(f"{path}: not a readable scalefit checkpoint ({type(exc).__name__}); move or delete it "
                              "to train the run from step 0") from None  # fmt: skip
    why = _mismatch(data.get("identity", {}) if isinstance(data, dict) else {}, identity(cfg))
    if why:
        raise CheckpointError(f"{path}: cannot resume this run: checkpoint {why}; move or delete it to train the "
                              "run from step 0")  # fmt: skip
    return data


def restore(data: dict[str, Any], model: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
    """Load a checkpoint's model and optimizer state into (possibly sharded) ``model`` and ``opt``."""
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_state_dict

    set_state_dict(model, opt, model_state_dict=data["model"], optim_state_dict=data["optim"],
                   options=StateDictOptions(full_state_dict=True))  # fmt: skip
    torch.set_rng_state(data["torch_rng"])
    if torch.cuda.is_available() and data.get("cuda_rng") is not None:
        torch.cuda.set_rng_state(data["cuda_rng"])


class Checkpoints:
    """When and where one run checkpoints: every ``every`` steps, every ``minutes`` of wall time, on a stop signal."""

    def __init__(self, cfg: TrainConfig, run_dir: Path, main: bool) -> None:
        self.path = run_dir / FILE
        self.every, self.seconds = cfg.checkpoint_every, cfg.checkpoint_minutes * 60
        self.main = main  # rank 0 writes
        self.identity = identity(cfg)
        self.last = time.monotonic()
        self.keep = cfg.keep_checkpoints

    def due_by_step(self, step: int) -> bool:
        """Same answer on every rank (no communication)."""
        return self.every > 0 and step % self.every == 0

    def due_by_time(self) -> bool:
        """This rank's clock says so (ranks agree through ``Dist.any``)."""
        return self.seconds > 0 and time.monotonic() - self.last >= self.seconds

    def save(self, model: torch.nn.Module, opt: torch.optim.Optimizer, state: dict[str, Any],
             to: tuple[Path, dict[str, Any]] | None = None) -> None:
        """Write the checkpoint after a step (every rank calls it: gathering a sharded model is collective).

        ``to``: (path, identity) of another run's checkpoint instead (a cooldown branch starting from this state).
        """
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_state_dict

        model_sd, optim_sd = get_state_dict(model, opt, options=StateDictOptions(full_state_dict=True,
                                                                                 cpu_offload=True))  # fmt: skip
        path, identity = to or (self.path, self.identity)
        if self.main:
            data = {"identity": identity, "model": model_sd, "optim": optim_sd, "torch_rng": torch.get_rng_state(),
                    "cuda_rng": torch.cuda.get_rng_state() if torch.cuda.is_available() else None, **state}  # fmt: skip
            with atomic_path(path) as tmp:
                torch.save(data, tmp)
        if to is None:
            self.last = time.monotonic()

    def finish(self) -> None:
        """The run is done: delete the checkpoint unless kept."""
        if self.main and not self.keep:
            self.path.unlink(missing_ok=True)
