"""Law symbols and the run-log columns that can feed them.

A symbol is resolved, in order, from ``--map SYMBOL=COLUMN``, a column named exactly like the
symbol, the first alias found (case-insensitive), or a derivation from other symbols.
"""

from __future__ import annotations

ALIASES: dict[str, tuple[str, ...]] = {
    "N": ("n_params", "params", "num_params", "Model Size", "model_size", "parameters"),
    "D": ("n_tokens", "tokens", "num_tokens", "Training Tokens", "training_tokens", "train_tokens"),
    "C": ("flops", "compute", "Training FLOP", "training_flops", "FLOPs"),
    "M": ("tokens_per_param", "multiplier", "D/N"),
    "L": ("loss", "final_loss", "eval_loss", "val_loss", "Loss"),
    "lr": ("learning_rate", "peak_lr"),
    "B": ("batch_size", "bs", "global_bs"),
    "width": ("d_model", "hidden_size"),
    "depth": ("n_layers", "num_layers"),
    "step": ("steps", "iteration", "iter", "_step", "global_step", "Step"),
    "Err": ("err", "error"),
    "Acc": ("acc", "accuracy"),
    "U_D": ("unique_tokens", "n_unique_tokens", "num_unique_tokens"),
    "U_N": ("unique_params", "n_unique_params"),
    "E": ("num_experts", "n_experts", "experts", "expert_count"),
    "P": ("parallel_size", "num_streams", "n_streams", "parallel_streams"),
    "N_nv": ("non_vocab_parameters", "n_params_nonvocab", "non_vocab_params", "Non_vocab_parameters"),
    "N_v": ("vocab_parameters", "n_params_vocab", "vocab_params"),
    "H": ("num_characters", "n_characters", "characters"),
}

SYMBOL_DOCS: dict[str, str] = {
    "N": "parameters",
    "D": "training tokens",
    "C": "training FLOPs",
    "M": "tokens per parameter (D/N)",
    "L": "loss",
    "lr": "learning rate",
    "B": "batch size",
    "width": "model width",
    "depth": "number of layers",
    "step": "training step",
    "Err": "downstream error",
    "Acc": "downstream accuracy",
    "U_D": "unique training tokens",
    "U_N": "unique parameters (compute-optimal size for the unique tokens)",
    "E": "number of experts",
    "P": "parallel streams",
    "N_nv": "non-vocabulary parameters",
    "N_v": "vocabulary parameters",
    "H": "training characters",
}

# Columns that name the run a row (a checkpoint) belongs to, tried in order (`--run COLUMN` overrides); `Name` is
# a W&B export's run name, `run_uuid` an MLflow export's run id.
RUN_KEYS = ("run_id", "run", "run_name", "Name", "run_uuid")

# Trackers' column prefixes (scalefit.runs.trackers: `config.`; MLflow's search_runs/CSV export: `params.`,
# `metrics.`; W&B exports: `summary.`): a symbol not found by name or alias is looked up under each, in order, so
# `config.n_params` feeds N and `metrics.loss` feeds L.
TRACKER_PREFIXES = ("config.", "params.", "metrics.", "summary.")

# Trackers' time columns, kept as they are (never a law input): W&B `_runtime` (seconds since the run started) and
# `_timestamp`, TensorBoard `wall_time` (seconds since the epoch), MLflow `timestamp` (milliseconds since the epoch).
TRACKER_TIME_COLUMNS = ("_runtime", "_timestamp", "wall_time", "timestamp")

# Symbols whose column orders a run's checkpoints, tried in order (`--order COLUMN` overrides), and the symbols
# that are sizes or progress, never averaged or smoothed by the per-run reducers (scalefit.runs.reduce).
ORDER_SYMBOLS = ("step", "D", "C")
PROGRESS_SYMBOLS = ("N", "D", "C", "M", "step")

# Symbols that are sizes or rates and must be strictly positive.
POSITIVE = frozenset({"N", "D", "C", "M", "lr", "B", "width", "depth"})

# symbol -> list of (needed symbols, function, description); tried in order.
DERIVATIONS = {
    "D": [(("C", "N"), lambda v: v["C"] / (6.0 * v["N"]), "C/(6N)"), (("M", "N"), lambda v: v["M"] * v["N"], "M*N")],
    "C": [(("N", "D"), lambda v: 6.0 * v["N"] * v["D"], "6ND")],
    "M": [(("D", "N"), lambda v: v["D"] / v["N"], "D/N")],
    "N": [(("C", "D"), lambda v: v["C"] / (6.0 * v["D"]), "C/(6D)"), (("D", "M"), lambda v: v["D"] / v["M"], "D/M")],
}
