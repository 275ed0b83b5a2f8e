"""Branched cooldowns: one stable WSD run, and cooldowns of shorter lengths branching off its checkpoints.

A length sweep under WSD (Hägele et al. 2024, "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
Durations") needs one run per length, but runs of one config differ only in where the cooldown starts: until a
shorter run's cooldown begins it is the longer run, step for step (same warmup in steps, the same batches, a
constant learning rate). So the trunk (the longest run, ``cooldown_branches = "0.5,0.25"``) writes, at each
shorter run's cooldown start, that run's checkpoint into the shorter run's own folder; the shorter run then
resumes from it and trains only its cooldown. Each branch is a run of the log like any other (its own config,
run id, curve and result) and ends bit-identical to a fresh run of its length: the trunk's warmup is pinned in
steps (``warmup_steps``) for every branch, so a fresh run with the branch's config has the same schedule. Lengths
{D, D/2, D/4} with a 20% cooldown cost D + 0.2 (D/2 + D/4) = 1.15 D of training instead of 1.75 D.

A branch's curve holds the trunk's rows up to the branch point (logged at the trunk's steps), then its own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from scalefit.errors import ConfigError
from scalefit.proxy.config import TrainConfig, branch_fractions, resolve, run_id
from scalefit.schedules import phase_steps

__all__ = ["branch_configs", "branch_points", "cooldown_start", "train_branched"]


def _steps(cfg: TrainConfig) -> int:
    return cfg.n_tokens // (cfg.batch_size * cfg.seq_len)


def cooldown_start(cfg: TrainConfig) -> int:
    """The last stable step of a WSD run: its cooldown takes the steps after it."""
    steps = _steps(cfg)
    return steps - phase_steps(steps, 0.0, cfg.decay_frac)[1]


def branch_configs(trunk: TrainConfig) -> list[TrainConfig]:
    """The configs of ``trunk``'s branches (longest first): the trunk's config at a fraction of its length, with
    the trunk's warmup pinned in steps and no branches of their own."""
    cfg = resolve(trunk)
    total = _steps(cfg)
    warmup = cfg.warmup_steps or phase_steps(total, cfg.warmup_frac, cfg.decay_frac)[0]
    out = []
    for fraction in branch_fractions(cfg):
        steps = int(round(fraction * total))
        branch = dataclasses.replace(cfg, n_tokens=steps * cfg.batch_size * cfg.seq_len, warmup_steps=warmup,
                                     cooldown_branches="")
        start = cooldown_start(branch)
        if start <= warmup or steps >= total:
            raise ConfigError(f"cooldown branch {fraction:g} of {total} steps ({steps} steps) would start its "
                              f"cooldown at step {start}, not after the {warmup} warmup steps; use a longer run or "
                              "larger fractions")
        out.append(branch)
    return out


def branch_points(trunk: TrainConfig, out_dir: Path) -> dict[int, list[tuple[Path, dict[str, Any]]]]:
    """Trunk step -> the (checkpoint path, checkpoint identity) of each branch whose cooldown starts after it."""
    from scalefit.proxy import checkpoint

    points: dict[int, list[tuple[Path, dict[str, Any]]]] = {}
    for branch in branch_configs(trunk):
        start = cooldown_start(branch)
        path = Path(out_dir) / branch.name / run_id(branch) / checkpoint.FILE
        points.setdefault(start, []).append((path, checkpoint.identity(branch)))
    return points


def train_branched(config: TrainConfig, out_dir: str | Path = "runs", **train_options: Any) -> list[dict[str, Any]]:
    """Train the trunk (writing its branches' checkpoints), then each branch from its checkpoint; the results,
    trunk first. A branch already finished is not trained again; ``train_options`` go to ``train_run``."""
    from scalefit.proxy.train import train_run

    branches = branch_configs(config)  # refuses bad branches before any training
    results = [train_run(config, out_dir, **train_options)]
    if results[0]["status"] != "ok":
        raise ConfigError(f"trunk run {results[0]['run_id']} ended {results[0]['status']!r}: its branches were not "
                          "trained (a branch must start from a healthy trunk)")
    return results + [train_run(branch, out_dir, **train_options) for branch in branches]
