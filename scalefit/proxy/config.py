"""Configuration of one proxy run: a frozen dataclass, layered defaults → TOML → ``--set key=value``.

This module never imports torch, so sweep specs and run ids can be computed without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import warnings
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from scalefit._io import read_toml
from scalefit.errors import ConfigError, ScalefitWarning
from scalefit.proxy.paths import check_name

PARAMETRIZATIONS = ("sp", "mup")
SCHEDULES = ("cosine", "wsd", "linear", "constant")
MLPS = ("gelu", "swiglu")
TOKENIZERS = ("byte", "bpe")
DEVICES = ("auto", "cpu", "cuda")
DTYPES = ("auto", "float32", "bfloat16")
SHARDS = ("ddp", "fsdp")
MUP_ATTENTION = ("1/d", "1/sqrt(d)")
MUP_EMBEDDING_LR = ("1", "1/sqrt(m)")  # muP: the embeddings' learning rate x this (m = width / base_width)
MUP_READOUT_INIT = ("1/m", "1/sqrt(m)")  # muP: the readout's effective init std is init_std x this
MUP_VECTOR_LR = ("1", "1/m")  # muP: the norm gains' learning rate x this (biases keep lr)
MUP_WEIGHT_DECAY = ("lr*wd", "wd")  # muP: a matrix keeps the base width's lr*wd (its wd / lr_mult), or its wd
ARCHS = ("gpt2", "llama", "olmo2")
COOLDOWNS = ("linear", "1-sqrt")

# Fields that change how a run executes but not what it computes; they are left out of the run id.
EXECUTION_FIELDS = ("name", "device", "compile", "peak_flops", "threads", "devices", "shard", "micro_batch",
                    "cooldown_branches",
                    "checkpoint_every", "checkpoint_minutes", "keep_checkpoints", "deterministic", "log")
# Each late field's value when it was added (its default then): a run id leaves the field out at that value, so the
# defaults can change (session 6 made llama and the later muP rules the defaults) without moving any older id.
ID_BASELINE = {"arch": "gpt2", "base_n_heads": 0, "mup_attention": "1/d", "base_depth": 0, "input_mult": 1.0,
               "output_mult": 1.0, "zero_readout": False, "zero_query": False, "cooldown": "linear",
               "warmup_steps": 0, "mup_embedding_lr": "1", "mup_readout_init": "1/m", "mup_vector_lr": "1",
               "mup_weight_decay": "lr*wd"}
# muP's own rules: an SP run computes the same whatever they say, so they never enter an SP run's id.
MUP_ONLY_FIELDS = ("mup_attention", "mup_embedding_lr", "mup_readout_init", "mup_vector_lr", "mup_weight_decay")
# Version of the muP rules (mup.py): 2 added hidden weight decay x m and Adam epsilon / m. A muP run's id includes
# it, so a run trained under other rules is never taken for one of these (SP ids are unchanged).
MUP_RULES = 2
# Version of the llama/olmo2 layouts (model.py): 2 set RMSNorm's epsilon to 1e-12 (was 1e-5). The id of a run in
# one of these layouts includes it, so a run computed by an older layout is never taken for one of these.
LAYOUT_RULES = 2
# Boolean fields that also take "auto" (resolved from other fields by ``resolve``).
AUTO_BOOLS = ("tied_embeddings",)
# Number fields that also take "auto" (resolved from other fields by ``resolve``).
AUTO_FLOATS = ("init_std",)
# init_std="auto": SP starts every matrix at this std at every width (best of {0.02, 0.04, 0.08} at width 128:
# benchmarks/results/init_default.json). muP starts its hidden matrices at a fan-in gain (std x sqrt(fan-in)) of
# MUP_INIT_GAIN at the base width, which muP keeps at every width: SP's 0.04 at base width 32 is a gain of 0.23 and
# muP stalled past width 64; 4x (0.16 at width 32, gain 0.9, near u-muP's unit scaling) is what width 128 wants and
# costs the base width < 0.01 nats (benchmarks/results/mup_init_transfer_seeds.json, init_default_base.json).
SP_INIT_STD = 0.04
MUP_INIT_GAIN = 0.9


@dataclass(frozen=True)
class ModelConfig:
    """Shape and parametrization of a proxy transformer (everything the model needs, nothing else)."""

    vocab_size: int = 256  # tokens in the vocabulary
    width: int = 128  # d_model: residual stream width
    depth: int = 4  # number of transformer blocks
    n_heads: int = 4  # attention heads; width must be divisible by it
    seq_len: int = 256  # context length in tokens (learned position embeddings)
    mlp: str = "swiglu"  # MLP kind: "swiglu" (3 matrices, as in LLaMA) or "gelu" (2 matrices, GPT-2)
    mlp_ratio: float = 4.0  # MLP hidden size / width (SwiGLU uses 2/3 of it, as in LLaMA)
    tied_embeddings: bool = False  # share the token embedding with the readout
    qk_layernorm: bool = False  # LayerNorm on queries and keys per head (Wortsman et al. 2023)
    bias: bool = False  # biases in linear layers and LayerNorms (GPT-2 has them)
    init_std: float = SP_INIT_STD  # init std of embeddings and base-width matrices (TrainConfig resolves its auto)
    parametrization: str = "sp"  # "sp" (standard) or "mup" (maximal update, Yang et al. 2022)
    base_width: int = 128  # muP: width at which muP equals SP (width multipliers are width/base_width)
    arch: str = "llama"  # "gpt2" (learned positions, LayerNorm), "llama" (RoPE, RMSNorm) or "olmo2" (llama, norm after)
    base_n_heads: int = 0  # muP: attention heads at the base width (0: n_heads); base head = base_width/base_n_heads
    mup_attention: str = "1/d"  # muP attention-logit scale: "1/d" (Tensor Programs V) or "1/sqrt(d)" (SP's)
    mup_embedding_lr: str = "1/sqrt(m)"  # muP embedding LR x "1/sqrt(m)" (u-muP, large vocab) or "1" (TP V)
    mup_readout_init: str = "1/m"  # muP readout effective init: init_std x "1/m" (TP V) or "1/sqrt(m)" (fan-in)
    mup_vector_lr: str = "1/m"  # muP norm-gain LR x "1/m" (as hidden matrices) or "1" (TP V); biases keep lr
    mup_weight_decay: str = "wd"  # muP matrix decay: its own "wd" (decoupled) or the base width's "lr*wd" (mup package)
    base_depth: int = 0  # CompleteP (depth-muP, alpha=1): depth at which it equals muP/SP; 0 turns depth scaling off
    input_mult: float = 1.0  # multiplier of the input embedding's output (muP's tunable alpha_in)
    output_mult: float = 1.0  # multiplier of the logits on top of muP's 1/m (muP's tunable alpha_out)
    zero_readout: bool = False  # initialise an untied readout matrix to zero (Tensor Programs V, section D.2)
    zero_query: bool = False  # initialise the query projection to zero (Tensor Programs V, section D.2)

    @property
    def d_head(self) -> int:
        return self.width // self.n_heads

    @property
    def mlp_hidden(self) -> int:
        if self.mlp == "swiglu":
            return int(round(2 * self.mlp_ratio * self.width / 3))
        return int(round(self.mlp_ratio * self.width))


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines one proxy run. Defaults give a small byte-level model on the KJV Bible."""

    name: str = "proxy"  # run group: outputs go to <out>/<name>/<run_id>/
    seed: int = 0  # seeds init, batch order and everything else random in the run
    # model
    width: int = 128  # d_model: residual stream width
    depth: int = 4  # number of transformer blocks
    n_heads: int = 4  # attention heads; width must be divisible by it
    seq_len: int = 256  # context length in tokens
    mlp: str = "swiglu"  # MLP kind: "swiglu" (LLaMA) or "gelu" (GPT-2)
    mlp_ratio: float = 4.0  # MLP hidden size / width (SwiGLU uses 2/3 of it)
    tied_embeddings: bool | str = "auto"  # share the token embedding with the readout (auto: tied only for gpt2 SP)
    qk_layernorm: bool = False  # LayerNorm on queries and keys (Wortsman et al. 2023)
    bias: bool = False  # biases in linear layers and LayerNorms
    init_std: float | str = "auto"  # init std of embeddings and base-width matrices; auto: SP 0.04, muP 0.9/sqrt(base)
    parametrization: str = "sp"  # "sp" or "mup"
    base_width: int = 128  # muP: width at which muP equals SP
    arch: str = "llama"  # "gpt2" (learned positions, LayerNorm), "llama" (RoPE, RMSNorm) or "olmo2" (llama, norm after)
    base_n_heads: int = 0  # muP: attention heads at the base width (0: n_heads); base head = base_width/base_n_heads
    mup_attention: str = "1/d"  # muP attention-logit scale: "1/d" (Tensor Programs V) or "1/sqrt(d)" (SP's)
    mup_embedding_lr: str = "1/sqrt(m)"  # muP embedding LR x "1/sqrt(m)" (u-muP, large vocab) or "1" (TP V)
    mup_readout_init: str = "1/m"  # muP readout effective init: init_std x "1/m" (TP V) or "1/sqrt(m)" (fan-in)
    mup_vector_lr: str = "1/m"  # muP norm-gain LR x "1/m" (as hidden matrices) or "1" (TP V); biases keep lr
    mup_weight_decay: str = "wd"  # muP matrix decay: its own "wd" (decoupled) or the base width's "lr*wd" (mup package)
    base_depth: int = 0  # CompleteP (depth-muP, alpha=1): depth at which it equals muP/SP; 0 turns depth scaling off
    input_mult: float = 1.0  # multiplier of the input embedding's output (muP's tunable alpha_in)
    output_mult: float = 1.0  # multiplier of the logits on top of muP's 1/m (muP's tunable alpha_out)
    zero_readout: bool = False  # initialise an untied readout matrix to zero (Tensor Programs V, section D.2)
    zero_query: bool = False  # initialise the query projection to zero (Tensor Programs V, section D.2)
    # data
    corpus: str = "kjv+stdlib"  # "kjv" (Bible), "pydoc" (CPython docs), "stdlib" (its source), joined by "+", or a path
    tokenizer: str = "byte"  # "byte" (vocab 256), "bpe" (trained on the training split, cached) or a tokenizer.json
    vocab_size: int = 256  # byte: must be 256; bpe: target vocab; .bin corpora: vocab of the stored ids
    # optimisation
    lr: float = 3e-3  # peak AdamW learning rate (muP: of width-independent params; hidden get lr/width_mult)
    batch_size: int = 32  # sequences per step
    n_tokens: int = 0  # training length in tokens; 0 means tokens_per_param x n_params
    tokens_per_param: float = 20.0  # M = D/N, used when n_tokens is 0
    schedule: str = "cosine"  # "cosine" (warmup + cosine), "wsd", "linear" or "constant" (after warmup)
    warmup_frac: float = 0.05  # fraction of steps spent in linear warmup
    warmup_steps: int = 0  # warmup length in steps; > 0 overrides warmup_frac (cooldown branches pin it)
    decay_frac: float = 0.2  # WSD: fraction of steps in the final decay (the cooldown)
    cooldown: str = "linear"  # WSD cooldown shape: "linear" or "1-sqrt" (Hägele et al. 2024)
    cooldown_branches: str = ""  # WSD: also train runs of these fractions of the length, branched off this one
    min_lr_ratio: float = 0.1  # final LR / peak LR for cosine, linear and WSD
    weight_decay: float = 0.1  # AdamW decoupled weight decay on matrices (not norms or biases)
    beta1: float = 0.9  # AdamW beta1
    beta2: float = 0.95  # AdamW beta2
    eps: float = 1e-8  # AdamW epsilon
    grad_clip: float = 1.0  # max global gradient norm; 0 disables clipping
    z_loss: float = 0.0  # coefficient of the z-loss log(Z)^2 on the logits (Wortsman et al. 2023)
    # evaluation
    n_evals: int = 16  # validation evaluations at log-spaced steps (plus the final one)
    eval_tokens: int = 65536  # validation tokens per evaluation (a fixed, evenly spread set of windows)
    cloze_items: int = 256  # items of the 4-way cloze set for err_cloze; 0 skips it
    diverge_factor: float = 2.0  # diverged when train loss > factor x first-step loss (or NaN/inf)
    # execution
    device: str = "auto"  # "auto" (cuda if available), "cpu" or "cuda"
    dtype: str = "auto"  # "auto" (bf16 autocast on CUDA, fp32 on CPU), "float32" or "bfloat16"
    compile: bool = False  # torch.compile the model (CUDA only)
    peak_flops: float = 0.0  # device peak FLOP/s for MFU; 0 looks up known GPUs
    threads: int = 0  # CPU threads for torch during the run; 0 keeps torch's default (use 1 per parallel job)
    devices: int = 1  # devices (GPUs; CPU processes with gloo) training the run; each reads its share of every batch
    shard: str = "ddp"  # how several devices hold the model: "ddp" (replicas) or "fsdp" (FSDP2 fully_shard)
    micro_batch: int = 0  # sequences per forward pass on each device (gradient accumulation); 0: batch_size/devices
    checkpoint_every: int = 0  # steps between mid-run checkpoints (0: none by steps)
    checkpoint_minutes: float = 30.0  # minutes between mid-run checkpoints (0: none by time)
    keep_checkpoints: bool = False  # keep the run's last checkpoint when it finishes (deleted otherwise)
    deterministic: bool = False  # torch deterministic algorithms (bitwise-exact resume on GPU; slower)
    log: str = ""  # trackers the run logs to: tensorboard, mlflow, wandb, comma-separated (W&B offline by default)

    def model_config(self) -> ModelConfig:
        """The model part of this config."""
        names = {f.name for f in fields(ModelConfig)}
        values = {k: v for k, v in dataclasses.asdict(self).items() if k in names}
        return ModelConfig(**{**values, "tied_embeddings": tied_default(self), "init_std": init_std_of(self)})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def tied_embeddings_default(parametrization: str, arch: str) -> bool:
    """What ``tied_embeddings=auto`` means: tied only for the gpt2 layout under SP (GPT-2 ties them); untied under
    muP (README "Tied embeddings under muP") and in the llama/olmo2 layouts (as LLaMA and OLMo 2 train)."""
    return parametrization != "mup" and arch == "gpt2"


def tied_default(cfg: TrainConfig) -> bool:
    """``cfg.tied_embeddings`` with ``auto`` resolved by the parametrization and the layout."""
    tied = cfg.tied_embeddings
    return tied_embeddings_default(cfg.parametrization, cfg.arch) if tied == "auto" else bool(tied)


def init_std_default(parametrization: str, base_width: int) -> float:
    """What ``init_std=auto`` means: SP_INIT_STD under SP; under muP a fan-in gain of MUP_INIT_GAIN at the base
    width (0.159 at base width 32, 0.080 at 128), which muP's 1/sqrt(m) hidden init keeps at every width."""
    return MUP_INIT_GAIN / math.sqrt(base_width) if parametrization == "mup" else SP_INIT_STD


def init_std_of(cfg: TrainConfig) -> float:
    """``cfg.init_std`` with ``auto`` resolved by the parametrization and the base width."""
    if cfg.init_std == "auto":
        return init_std_default(cfg.parametrization, cfg.base_width)
    return float(cfg.init_std)


def allowed_keys() -> list[str]:
    return [f.name for f in fields(TrainConfig)]


def key_docs() -> dict[str, str]:
    """Each TrainConfig key's one-line comment, read from this module's source (one source of truth)."""
    import inspect
    import re

    source = inspect.getsource(TrainConfig)
    docs = dict(re.findall(r"^    (\w+): [^=]+=[^#]+#\s*(.+)$", source, flags=re.M))
    return {k: docs.get(k, "") for k in allowed_keys()}


def _field_types() -> dict[str, type]:
    defaults = TrainConfig()
    return {f.name: type(getattr(defaults, f.name)) for f in fields(TrainConfig)}


def _coerce(key: str, value: Any, source: str) -> Any:
    """Check (and for strings from --set, parse) one value against the field's type."""
    types = _field_types()
    if key not in types:
        raise ConfigError(f"unknown config key {key!r} in {source}; allowed keys: {', '.join(allowed_keys())}")
    want = types[key]
    if key in AUTO_BOOLS:  # true, false or "auto"
        return _auto_bool(key, value, source)
    if key in AUTO_FLOATS and isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if key in AUTO_FLOATS:  # else a number
        want = float
    if isinstance(value, str) and want is not str and source == "--set":
        value = _parse_text(key, value, want)
    ok = (
        isinstance(value, want)
        and not (want is int and isinstance(value, bool))
        or (want is float and isinstance(value, int) and not isinstance(value, bool))
    )
    if not ok:
        raise ConfigError(
            f"config key {key!r} in {source} must be {want.__name__}, got {type(value).__name__} {value!r}"
        )
    if want is float and not math.isfinite(value):
        raise ConfigError(f"config key {key!r} in {source} must be a finite number, got {value!r}")
    if key == "seed" and value < 0:
        raise ConfigError(f"config key 'seed' in {source} must be >= 0, got {value}")
    return float(value) if want is float else value


def _auto_bool(key: str, value: Any, source: str) -> bool | str:
    if isinstance(value, str) and value.strip().lower() == "auto":
        return "auto"
    if isinstance(value, str) and source == "--set":
        return _parse_text(key, value, bool)
    if not isinstance(value, bool):
        raise ConfigError(f"config key {key!r} in {source} must be true, false or \"auto\", got {value!r}")
    return value


def _parse_text(key: str, text: str, want: type) -> Any:
    try:
        if want is bool:
            low = text.strip().lower()
            if low in ("true", "1", "yes", "on"):
                return True
            if low in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        if want is int:
            as_float = float(text)  # accept 1e6
            if not as_float.is_integer():
                raise ValueError(text)
            return int(as_float)
        return want(text)
    except ValueError:
        raise ConfigError(f"--set {key}={text}: expected {want.__name__}") from None


def parse_set(items: list[str]) -> dict[str, Any]:
    """Parse ``key=value`` strings (from ``--set``) into typed values."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set expects key=value, got {item!r}; allowed keys: {', '.join(allowed_keys())}")
        key, text = item.split("=", 1)
        key = key.strip().replace("-", "_")
        out[key] = _coerce(key, text.strip(), "--set")
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file of config keys (top level, or under a ``[train]`` table)."""
    data = read_toml(path, ConfigError, "config file")
    if "train" in data and isinstance(data["train"], dict):
        data = data["train"]
    return {k: _coerce(k, v, str(path)) for k, v in data.items()}


def make_config(
    toml: str | Path | None = None, overrides: dict[str, Any] | None = None, sets: list[str] | None = None
) -> TrainConfig:
    """Build a validated config: defaults, then a TOML file, then ``overrides``, then ``--set`` strings."""
    values: dict[str, Any] = {}
    if toml is not None:
        values.update(load_toml(toml))
    for k, v in (overrides or {}).items():
        values[k] = _coerce(k, v, "options")
    values.update(parse_set(sets or []))
    cfg = TrainConfig(**values)
    validate(cfg)
    return cfg


def _choice(cfg: TrainConfig, key: str, allowed: tuple[str, ...]) -> None:
    if getattr(cfg, key) not in allowed:
        raise ConfigError(f"unknown {key} {getattr(cfg, key)!r}; choose one of {', '.join(allowed)}")


def validate(cfg: TrainConfig) -> None:
    """Raise ConfigError for any inconsistent setting (checks that need no corpus or torch)."""
    for key, allowed in (
        ("parametrization", PARAMETRIZATIONS),
        ("schedule", SCHEDULES),
        ("mlp", MLPS),
        ("device", DEVICES),
        ("dtype", DTYPES),
        ("shard", SHARDS),
        ("mup_attention", MUP_ATTENTION),
        ("mup_embedding_lr", MUP_EMBEDDING_LR),
        ("mup_readout_init", MUP_READOUT_INIT),
        ("mup_vector_lr", MUP_VECTOR_LR),
        ("mup_weight_decay", MUP_WEIGHT_DECAY),
        ("arch", ARCHS),
        ("cooldown", COOLDOWNS),
    ):
        _choice(cfg, key, allowed)
    check_name(cfg.name, "name")
    for key in ("width", "depth", "n_heads", "seq_len", "batch_size", "base_width", "vocab_size", "n_evals"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{key} must be >= 1, got {getattr(cfg, key)}")
    if cfg.width % cfg.n_heads:
        raise ConfigError(f"width {cfg.width} is not divisible by n_heads {cfg.n_heads}")
    _check_shape_scaling(cfg)
    if cfg.tokenizer not in TOKENIZERS and not str(cfg.tokenizer).endswith(".json"):
        raise ConfigError(f"unknown tokenizer {cfg.tokenizer!r}; choose one of {', '.join(TOKENIZERS)} or give the "
                          "path of a Hugging Face tokenizer.json")
    if cfg.tokenizer == "byte" and cfg.vocab_size != 256:
        raise ConfigError(f"the byte tokenizer has vocab_size 256, got {cfg.vocab_size}; use tokenizer=bpe")
    if cfg.n_tokens < 0 or cfg.tokens_per_param <= 0:
        raise ConfigError("n_tokens must be >= 0 and tokens_per_param > 0")
    if cfg.init_std != "auto" and isinstance(cfg.init_std, (str, bool)):
        raise ConfigError(f"init_std must be a positive number or \"auto\", got {cfg.init_std!r}")
    for key in ("lr", "init_std", "mlp_ratio", "diverge_factor"):
        if key == "init_std" and cfg.init_std == "auto":
            continue
        if not (getattr(cfg, key) > 0 and math.isfinite(getattr(cfg, key))):
            raise ConfigError(f"{key} must be a positive number, got {getattr(cfg, key)}")
    if not (0 <= cfg.warmup_frac < 1 and 0 <= cfg.decay_frac <= 1 and 0 <= cfg.min_lr_ratio <= 1):
        raise ConfigError("warmup_frac must be in [0, 1), decay_frac and min_lr_ratio in [0, 1]")
    if cfg.schedule == "wsd" and cfg.warmup_frac + cfg.decay_frac > 1:
        raise ConfigError("wsd needs warmup_frac + decay_frac <= 1")
    if cfg.warmup_steps < 0:
        raise ConfigError(f"warmup_steps must be >= 0, got {cfg.warmup_steps}")
    branch_fractions(cfg)  # checks cooldown_branches
    if cfg.cooldown != "linear" and cfg.schedule != "wsd":
        raise ConfigError(f"cooldown={cfg.cooldown} shapes the wsd schedule's decay; set schedule=wsd (got "
                          f"{cfg.schedule})")
    if cfg.threads < 0:
        raise ConfigError(f"threads must be >= 0, got {cfg.threads}")
    _check_devices(cfg)
    if cfg.grad_clip < 0 or cfg.z_loss < 0 or cfg.weight_decay < 0 or cfg.cloze_items < 0:
        raise ConfigError("grad_clip, z_loss, weight_decay and cloze_items must be >= 0")
    if cfg.eval_tokens < cfg.seq_len:
        raise ConfigError(f"eval_tokens {cfg.eval_tokens} must be at least seq_len {cfg.seq_len}")
    if cfg.compile and cfg.device == "cpu":
        raise ConfigError("compile=true is supported on CUDA only")
    if cfg.tied_embeddings not in (True, False, "auto"):
        raise ConfigError(f"tied_embeddings must be true, false or auto, got {cfg.tied_embeddings!r}")
    if cfg.parametrization == "mup" and cfg.tied_embeddings is True and cfg.width != cfg.base_width:
        warnings.warn(
            "muP with tied embeddings: the shared matrix is trained as an input embedding (learning rate not "
            "scaled) and read out with the 1/m logit multiplier, as the mup package's MuSharedReadout does; on "
            "byte-level proxies this kept width 128 at the width-32 loss (2.27 vs 2.01 untied, base width 32). "
            "The default, tied_embeddings=auto, unties them under muP",
            ScalefitWarning,
            stacklevel=2,
        )


def branch_fractions(cfg: TrainConfig) -> list[float]:
    """The fractions of ``cooldown_branches`` ("0.5,0.25"), each in (0, 1), distinct; ConfigError otherwise."""
    text = str(cfg.cooldown_branches).strip()
    if not text:
        return []
    try:
        fractions = [float(part) for part in text.split(",")]
    except ValueError:
        fractions = []
    if not fractions or not all(0 < f < 1 for f in fractions) or len(set(fractions)) != len(fractions):
        raise ConfigError(f"cooldown_branches {text!r}: give distinct fractions of the run's length in (0, 1), "
                          "e.g. 0.5,0.25")
    if cfg.schedule != "wsd":
        raise ConfigError(f"cooldown_branches need schedule=wsd (a stable phase to branch from), got {cfg.schedule}")
    return sorted(fractions, reverse=True)


def _check_shape_scaling(cfg: TrainConfig) -> None:
    """muP's base shape, CompleteP's base depth, the multipliers and the architecture options agree."""
    base_heads = cfg.base_n_heads or cfg.n_heads
    if cfg.base_n_heads < 0 or cfg.base_depth < 0:
        raise ConfigError("base_n_heads and base_depth must be >= 0 (0: the run's own n_heads / no depth scaling)")
    if cfg.parametrization == "mup" and cfg.base_width % base_heads:
        raise ConfigError(f"base_width {cfg.base_width} is not divisible by the base head count {base_heads} "
                          "(base_n_heads, or n_heads when it is 0)")
    for key in ("input_mult", "output_mult"):
        if not (getattr(cfg, key) > 0 and math.isfinite(getattr(cfg, key))):
            raise ConfigError(f"{key} must be a positive number, got {getattr(cfg, key)}")
    if cfg.zero_readout and tied_default(cfg):
        raise ConfigError("zero_readout needs an untied readout (tied_embeddings=false): a zero tied readout "
                          "would also zero the input embedding")
    if cfg.arch != "gpt2":
        if cfg.bias:
            raise ConfigError(f"arch={cfg.arch} has no biases (RMSNorm, bias-free projections); set bias=false")
        if (cfg.width // cfg.n_heads) % 2:
            raise ConfigError(f"arch={cfg.arch} uses rotary position embeddings, which need an even head size; "
                              f"width/n_heads = {cfg.width // cfg.n_heads}")


def _check_devices(cfg: TrainConfig) -> None:
    """Several devices share every global batch evenly; checkpoint intervals are non-negative."""
    if cfg.devices < 1 or cfg.micro_batch < 0 or cfg.checkpoint_every < 0:
        raise ConfigError("devices must be >= 1, micro_batch and checkpoint_every >= 0")
    if not (math.isfinite(cfg.checkpoint_minutes) and cfg.checkpoint_minutes >= 0):
        raise ConfigError(f"checkpoint_minutes must be >= 0, got {cfg.checkpoint_minutes}")
    if cfg.batch_size % cfg.devices:
        raise ConfigError(f"batch_size {cfg.batch_size} is not divisible by devices {cfg.devices} (each device reads "
                          f"batch_size/devices sequences of every batch); use a multiple of {cfg.devices}")
    share = cfg.batch_size // cfg.devices
    if cfg.micro_batch and share % cfg.micro_batch:
        raise ConfigError(f"micro_batch {cfg.micro_batch} does not divide the {share} sequences each device reads "
                          "per step (batch_size/devices)")


def resolve(cfg: TrainConfig) -> TrainConfig:
    """Fill in derived settings: n_tokens from tokens_per_param when it is 0, the "auto" fields. Checks one batch
    fits."""
    from scalefit.proxy.counting import count_params

    validate(cfg)
    n_tokens = cfg.n_tokens
    if n_tokens == 0:
        n_tokens = int(round(cfg.tokens_per_param * count_params(cfg.model_config())["n_params"]))
    per_step = cfg.batch_size * cfg.seq_len
    if n_tokens < per_step:
        raise ConfigError(
            f"n_tokens {n_tokens} is less than one batch ({cfg.batch_size} x {cfg.seq_len} = {per_step} tokens); "
            "raise n_tokens/tokens_per_param or lower batch_size/seq_len"
        )
    return dataclasses.replace(cfg, n_tokens=n_tokens, tied_embeddings=tied_default(cfg), init_std=init_std_of(cfg))


def run_id(cfg: TrainConfig) -> str:
    """Stable 12-hex-digit hash of the resolved config (execution-only fields left out)."""
    resolved = resolve(cfg)
    payload = {k: v for k, v in resolved.to_dict().items()
               if k not in EXECUTION_FIELDS and not (k in ID_BASELINE and v == ID_BASELINE[k])
               and not (k in MUP_ONLY_FIELDS and resolved.parametrization != "mup")}
    if resolved.parametrization == "mup":  # muP runs computed under older rules must not share an id with these
        payload["mup_rules"] = MUP_RULES
        if resolved.bias and resolved.mup_vector_lr == "1/m":  # biases left mup_vector_lr's 1/m in session 6
            payload["bias_lr_rule"] = 2
    if resolved.arch != "gpt2":  # likewise for the Llama-style layouts (gpt2 ids are unchanged)
        payload["layout_rules"] = LAYOUT_RULES
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:12]
