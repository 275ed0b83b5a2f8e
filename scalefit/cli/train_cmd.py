"""``scalefit train`` (one proxy run) and ``scalefit coord-check`` (muP coordinate check).

torch is imported inside the commands only, so ``scalefit --help`` stays fast and torch-free.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import typer

from scalefit.cli._app import app
from scalefit.cli.common import echo, echo_json, handle_errors
from scalefit.cli.option_groups import option, with_options
from scalefit.errors import ConfigError
from scalefit.proxy.config import PARAMETRIZATIONS, key_docs, make_config
from scalefit.proxy.paths import check_out_folder


def _keys_epilog() -> str:
    lines = [f"{k}: {doc}" for k, doc in key_docs().items()]
    return "Config keys for --set and TOML files (defaults: scalefit.proxy.TrainConfig):\n\n" + "\n\n".join(lines)


@dataclass(frozen=True)
class RunOptions:
    """The config keys `scalefit train` takes as options (None: the --config file's value, else the default)."""

    name: str = option(None, "--name", help="Run group name (default: proxy).")
    corpus: str = option(None, "--corpus", help="kjv+stdlib (default: King James Bible and CPython's "
                         "stdlib source), kjv, pydoc, stdlib, a .txt/.jsonl/.parquet/.bin file or folder, or several "
                         "joined with +.")
    width: int = option(None, "--width", help="Model width d_model (default 128).")
    depth: int = option(None, "--depth", help="Number of transformer blocks (default 4).")
    n_heads: int = option(None, "--heads", help="Attention heads; must divide width (default 4).")
    seq_len: int = option(None, "--seq-len", help="Context length in tokens (default 256).")
    batch_size: int = option(None, "--batch-size", help="Sequences per step (default 32).")
    lr: float = option(None, "--lr", help="Peak learning rate (default 3e-3).")
    n_tokens: float = option(None, "--tokens", help="Training tokens, e.g. 2e6 (default: M x n_params).")
    tokens_per_param: float = option(None, "--tokens-per-param", "-M", help="Tokens per parameter M = D/N when "
                                     "--tokens is not given (default 20).")
    parametrization: str = option(None, "--parametrization", "-p", help="sp (default) or mup.")
    base_width: int = option(None, "--base-width", help="muP base width, where muP equals SP (default 128).")
    schedule: str = option(None, "--schedule", help="cosine (default), wsd, linear or constant.")
    seed: int = option(None, "--seed", help="Seed for init and batch order (default 0).")
    device: str = option(None, "--device", help="auto (default), cpu or cuda.")
    compile: bool = option(None, "--compile/--no-compile", help="torch.compile the model (CUDA only).")
    threads: int = option(None, "--threads", help="CPU threads for torch (default: torch's; use 1 per job when "
                          "runs share cores).")
    log: str = option(None, "--log", metavar="TRACKERS", help="Also log the run to tensorboard, mlflow and/or "
                      "wandb (comma-separated; W&B offline unless WANDB_MODE=online).")
    devices: int = option(None, "--devices", help="Devices training the run (GPUs, or CPU processes), launched with "
                          "torch.distributed; same global batch and curve whatever the count (default 1). "
                          "--set shard=fsdp shards the model (FSDP2) instead of replicating it (DDP).")

    def given(self) -> dict:
        """The config keys set by these options."""
        if self.n_tokens is not None and not (float(self.n_tokens).is_integer() and self.n_tokens >= 1):
            raise ConfigError(f"--tokens must be a whole number of tokens >= 1, got {self.n_tokens:g} (leave it out "
                              "to train M x n_params tokens)")
        keys = {k: v for k, v in asdict(self).items() if v is not None}
        if "n_tokens" in keys:
            keys["n_tokens"] = int(keys["n_tokens"])
        return keys


def _echo_result(result: dict, run_dir: Path) -> None:
    def fmt(key: str, spec: str = ".4f") -> str:
        return "n/a" if result[key] is None else format(result[key], spec)

    echo(
        f"{result['status']}: loss {fmt('loss')} nats ({fmt('bits_per_byte')} bits/byte), err_cloze "
        f"{fmt('err_cloze', '.3f')}, N={result['n_params']:,}, D={result['n_tokens']:,}, "
        f"{fmt('tokens_per_s', ',.0f')} tokens/s, {result['wall_s']:.1f}s -> {run_dir}"
    )
    if result["message"]:
        echo(result["message"])


@app.command("train", epilog=_keys_epilog())
@handle_errors
@with_options(run=RunOptions)
def train_command(
    config: Path = typer.Option(None, "--config", "-c", help="TOML file of config keys (top level or a train table)."),
    sets: list[str] = typer.Option(
        [], "--set", "-s", metavar="KEY=VALUE", help="Set any config key (repeatable; applied last, wins)."
    ),
    out: str = typer.Option("runs", "--out", "-o", help="Runs folder; the run goes to OUT/NAME/RUN_ID/."),
    run: RunOptions = None,
    vary: list[str] = typer.Option(
        [], "--vary", metavar="KEY=V1,V2,...", help="Train one run per combination of these values as ONE batched "
        "model (repeatable): lr, seed, schedule, init_std, n_tokens, ... (the runs share their shape)."
    ),  # fmt: skip
    as_json: bool = typer.Option(False, "--json", help="Print the result row as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Do not print the loss curve while training."),
) -> None:
    """Train one proxy LM and write OUT/NAME/RUN_ID/{config.json, curve.csv, result.json}.

    Settings apply in order: defaults, --config TOML, the options below, then --set KEY=VALUE.
    """
    runs_dir = check_out_folder(out, "--out")
    if vary:
        _train_batched([make_config(config, run.given(), sets + extra) for extra in _combinations(vary)], runs_dir,
                       as_json=as_json, quiet=quiet)  # fmt: skip
        return
    cfg = make_config(config, run.given(), sets)

    from scalefit.proxy.config import resolve, run_id
    from scalefit.proxy.train import train_run

    resolved = resolve(cfg)
    run_dir = runs_dir / resolved.name / run_id(resolved)

    def show(row: dict) -> None:
        if row["step"] == 1:
            echo(f"training {run_dir} ({resolved.n_tokens:,} tokens)", err=True)
        echo(
            f"step {row['step']:>7}  tokens {row['tokens']:>11,}  lr {row['lr']:.3g}  "
            f"train {row['train_loss']:.4f}  val {row['loss']:.4f}  {row['wall_s']:.1f}s",
            err=True,
        )

    from scalefit.errors import RunInterrupted
    from scalefit.proxy.checkpoint import stop_on

    stop_on()  # `sbatch --signal=USR1@90` and friends: checkpoint, then stop
    try:
        if cfg.cooldown_branches:  # the trunk, then each cooldown branch from the trunk's checkpoint
            from scalefit.proxy.branches import train_branched

            results = train_branched(cfg, runs_dir, on_log=None if quiet or as_json else show)
        else:
            results = [train_run(cfg, runs_dir, on_log=None if quiet or as_json else show)]
    except RunInterrupted as exc:
        echo(f"scalefit train: {exc}", err=True)
        raise typer.Exit(130) from None
    if as_json:
        echo_json(results[0] if len(results) == 1 else results)
        return
    for result in results:
        _echo_result(result, runs_dir / resolved.name / result["run_id"])


def _combinations(vary: list[str]) -> list[list[str]]:
    """``--vary KEY=V1,V2`` options as lists of ``--set`` strings, one per combination (first key slowest)."""
    import itertools

    from scalefit.proxy.group import PER_MEMBER

    axes = []
    for item in vary:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ConfigError(f"--vary expects KEY=V1,V2,..., got {item!r}")
        if key not in PER_MEMBER:
            raise ConfigError(f"--vary {key}: runs trained as one batched model may differ only in "
                              f"{', '.join(PER_MEMBER)}")  # fmt: skip
        axes.append([f"{key}={v.strip()}" for v in values.split(",") if v.strip()])
    return [list(combo) for combo in itertools.product(*axes)]


def _train_batched(configs: list, runs_dir: Path, *, as_json: bool, quiet: bool) -> None:
    """Train the configs as one batched model; one result line per member (or a JSON list)."""
    from scalefit.proxy.batched import train_batch
    from scalefit.proxy.config import run_id

    dirs = [runs_dir / c.name / run_id(c) for c in configs]

    def show(i: int, row: dict) -> None:
        echo(f"[{i + 1}/{len(configs)}] step {row['step']:>7}  lr {row['lr']:.3g}  train {row['train_loss']:.4f}"
                   f"  val {row['loss']:.4f}  {row['wall_s']:.1f}s", err=True)  # fmt: skip

    results = train_batch(configs, runs_dir, on_log=None if quiet or as_json else show)
    if as_json:
        echo_json(results)
        return
    for result, run_dir in zip(results, dirs):
        _echo_result(result, run_dir)


def _widths(text: str, option: str = "--widths", minimum: int = 2) -> list[int]:
    try:
        widths = sorted({int(w) for w in text.split(",") if w.strip()})
    except ValueError:
        raise ConfigError(f"{option} expects comma-separated integers, got {text!r}") from None
    if len(widths) < minimum or (widths and widths[0] < 1):
        raise ConfigError(f"{option} needs at least {'two' if minimum == 2 else 'one'} positive values")
    return widths


@app.command("coord-check")
@handle_errors
def coord_check_command(
    widths: str = typer.Option("64,128,256,512", "--widths", help="Comma-separated widths to compare."),
    depths: str = typer.Option(None, "--depths", help="Check depth instead: comma-separated depths at one width "
                               "(the first of --widths); CompleteP's base depth is the smallest (muP) or none (sp)."),
    parametrization: str = typer.Option("both", "--parametrization", "-p", help="mup, sp or both."),
    steps: int = typer.Option(5, "--steps", help="AdamW steps to train at each width."),
    lr: float = typer.Option(1e-2, "--lr", help="Learning rate (high, to expose width dependence)."),
    depth: int = typer.Option(2, "--depth", help="Transformer blocks."),
    heads: int = typer.Option(4, "--heads", help="Attention heads (must divide every width)."),
    seq_len: int = typer.Option(64, "--seq-len", help="Context length."),
    batch_size: int = typer.Option(8, "--batch-size", help="Sequences per step."),
    corpus: str = typer.Option("pydoc", "--corpus", help="Corpus for the batches (kjv, pydoc or a path)."),
    seed: int = typer.Option(0, "--seed", help="Seed for init and batches."),
    seeds: int = typer.Option(1, "--seeds", help="Average the activation scales over this many seeds (--seed, "
                              "--seed + 1, ...) before fitting slopes; one seed's slopes scatter by ~0.3 at width 32."),
    sets: list[str] = typer.Option(None, "--set", help="A model option KEY=VALUE (repeatable), e.g. arch=gpt2, "
                                   "mlp=gelu, tied_embeddings=true, qk_layernorm=true, bias=true, init_std=0.08."),
    plot: Path = typer.Option(None, "--plot", help="Write a log-log plot of activation scale vs width here."),
    as_json: bool = typer.Option(False, "--json", help="Print slopes and activation scales as JSON."),
) -> None:
    """Coordinate check: activation scale per layer vs width (or depth) after a few steps (flat under muP)."""
    ds = _widths(depths, "--depths") if depths is not None else None
    ws = _widths(widths, minimum=1 if ds is not None else 2)
    kinds = list(PARAMETRIZATIONS) if parametrization == "both" else [parametrization]
    if any(k not in PARAMETRIZATIONS for k in kinds):
        raise ConfigError(f"unknown parametrization {parametrization!r}; choose mup, sp or both")
    checked = ws[:1] if ds is not None else ws
    bad = [w for w in checked if w % heads]
    if bad:
        raise ConfigError(f"widths {bad} are not divisible by --heads {heads}")
    options = _model_options(sets or [])
    for kind in kinds:  # every option combination is checked as the trainer checks a run's config
        for w in checked:
            make_config(overrides={"width": w, "depth": max(ds or [depth]), "n_heads": heads, "seq_len": seq_len,
                                   "parametrization": kind}, sets=sets or [])

    from scalefit.proxy.coord import coord_check, coord_check_depth, coord_slopes

    axis, values = ("depth", ds) if ds is not None else ("width", ws)
    shared = dict(steps=steps, lr=lr, n_heads=heads, seq_len=seq_len, batch_size=batch_size, corpus=corpus,
                  seed=seed, seeds=seeds, options=options)
    frames, report = {}, {}
    for kind in kinds:
        if ds is not None:
            frame = coord_check_depth(ds, width=ws[0], parametrization=kind, base_depth=None if kind == "mup" else 0,
                                      **shared)
        else:
            frame = coord_check(ws, parametrization=kind, depth=depth, **shared)
        frames[kind] = frame
        last = frame[frame["step"] == steps]
        report[kind] = {
            "slopes": coord_slopes(frame),
            "l1": {layer: dict(zip(g[axis].tolist(), g["l1"].tolist())) for layer, g in last.groupby("layer")},
        }
    if plot is not None:
        _plot(frames, steps, plot)
    if as_json:
        echo_json({f"{axis}s": values, "steps": steps, f"base_{axis}": values[0], "seeds": seeds, "options": options,
                   **report})
        return
    for kind, rep in report.items():
        echo(f"{kind}: mean |activation| after {steps} steps (base {axis} {values[0]}); slope = d log / d log {axis}")
        echo(f"    {'layer':<14}" + "".join(f"{v:>10}" for v in values) + f"{'slope':>9}")
        for layer, slope in rep["slopes"].items():
            cells = "".join(f"{rep['l1'][layer][v]:>10.3g}" if v in rep["l1"][layer] else f"{'-':>10}" for v in values)
            echo(f"    {layer:<14}{cells}{slope:>9.2f}")
    if plot is not None:
        echo(f"plot: {plot}")


def _model_options(items: list[str]) -> dict:
    """``--set KEY=VALUE`` model options for the coordinate check, typed and checked as the trainer's config."""
    from dataclasses import fields

    from scalefit.proxy.config import ModelConfig, parse_set

    values = parse_set(items)
    shape = {"width", "depth", "n_heads", "seq_len", "parametrization", "base_width", "base_depth"}
    allowed = {f.name for f in fields(ModelConfig)} - shape
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise ConfigError(f"--set {', '.join(unknown)}: not a model option the coordinate check varies; "
                          f"allowed: {', '.join(sorted(allowed))} (the shape comes from --widths/--depths/--heads)")
    if "tied_embeddings" in values and values["tied_embeddings"] == "auto":
        del values["tied_embeddings"]
    return values


def _plot(frames: dict, steps: int, path: Path) -> None:
    from scalefit.plotting import pyplot, save_figure
    from scalefit.plotting.coord import plot_coord_check

    fig = plot_coord_check(frames, steps)
    try:
        save_figure(fig, path)
    finally:
        pyplot().close(fig)
