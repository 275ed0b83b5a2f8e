"""Sweep specs: a TOML file (or a preset) of fixed options and grids, expanded into planned runs.

A spec has a ``[fixed]`` table (options for every run) and one ``[grid]`` table or several ``[[grid]]``
tables; each grid is the cartesian product of its list-valued keys (a scalar is a one-value list), in the
order written, and the sweep is the union of its grids. A grid's keys override ``[fixed]``. Keys are any
``TrainConfig`` key (``lr``, ``batch_size``, ``seed``, ``schedule``, ``parametrization``, ``corpus``,
``width``, ``depth`` ...) plus the sweep keys in ``SWEEP_KEYS``::

    name = "my-sweep"
    [fixed]
    seq_len = 64
    batch_size = 16
    [[grid]]
    shape = [[32, 2], [64, 2], [96, 3]]   # (width, depth) pairs; or params = [5e4, 2e5] for target sizes
    M = [5, 20, 80]                        # tokens per parameter; or tokens = [...] or flops = [...]
    lr = [1e-3, 3e-3]

Every token count is rounded to whole batches (``batch_size x seq_len`` tokens), so the planned D is what
the trainer runs. Specs that make no sense are refused with a message naming the key and the grid.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scalefit._io import read_toml
from scalefit.errors import ConfigError, SweepError
from scalefit.proxy.branches import branch_configs
from scalefit.proxy.config import EXECUTION_FIELDS, TrainConfig, allowed_keys, make_config, run_id
from scalefit.proxy.counting import count_params, flops_per_token
from scalefit.proxy.data import corpus_problem
from scalefit.proxy.paths import check_name
from scalefit.sweeps.shapes import DEFAULT_ASPECT, shape_for_params

__all__ = ["PlannedRun", "SweepSpec", "SWEEP_KEYS", "expand", "load_spec", "parse_spec", "spec_to_toml"]

TOP_KEYS = ("name", "description", "fixed", "grid")
SWEEP_KEYS = {
    "shape": "list of [width, depth] or [width, depth, n_heads] lists",
    "params": "target parameter counts N, turned into (width, depth) shapes",
    "aspect": f"width/depth ratio of the shapes made from params (default {DEFAULT_ASPECT:g})",
    "width_multiple": "widths made from params are multiples of this and of n_heads (default 8)",
    "tokens": "training tokens D",
    "M": "tokens per parameter D/N",
    "flops": "training FLOPs C (the run log's flops column), D = C / FLOPs per token",
}
LENGTH_KEYS = ("tokens", "M", "flops")
SHAPE_KEYS = ("shape", "params")
# TrainConfig keys a spec may not set, and what to use instead.
REFUSED = {
    "n_tokens": "use tokens (or M, flops)",
    "tokens_per_param": "use M",
    "name": "the sweep names its runs after the output folder",
}


@dataclass(frozen=True)
class SweepSpec:
    """A parsed, validated (not yet expanded) sweep spec."""

    name: str  # sweep name (default output folder: runs/<name>)
    fixed: dict[str, Any]  # options for every run
    grids: tuple[dict[str, list[Any]], ...]  # each grid: key -> list of values (product)
    description: str = ""  # one line shown by --dry-run
    source: str = "<spec>"  # file path or preset:<name>, for messages


@dataclass(frozen=True)
class PlannedRun:
    """One run of an expanded sweep: its config (n_tokens filled in), id and sizes."""

    config: TrainConfig  # full config; n_tokens set, name = sweep name
    run_id: str  # run_id(config)
    n_params: int  # N
    n_tokens: int  # D
    flops: float  # C = FLOPs per token x D
    where: str  # "grid #k" it came from
    axes: dict[str, Any] = field(default_factory=dict)  # the grid values that made it
    trunk: str = ""  # a cooldown branch: its trunk's run id (the branch starts from the trunk's checkpoint)


def _allowed() -> list[str]:
    return sorted(set(allowed_keys()) - set(REFUSED)) + list(SWEEP_KEYS)


def check_key(key: str, where: str) -> None:
    if key in REFUSED:
        raise SweepError(f"{where}: key {key!r} cannot be set in a sweep spec: {REFUSED[key]}")
    if key not in SWEEP_KEYS and key not in allowed_keys():
        raise SweepError(f"{where}: unknown key {key!r}; allowed keys: {', '.join(_allowed())}")


def _as_list(key: str, value: Any, where: str) -> list[Any]:
    if key == "shape":
        if not isinstance(value, list) or not value or not all(isinstance(v, list) for v in value):
            raise SweepError(f"{where}: shape must be a list of [width, depth] lists, e.g. shape = [[64, 2], [128, 4]]")
        for v in value:
            if len(v) not in (2, 3) or not all(isinstance(x, int) and not isinstance(x, bool) and x > 0 for x in v):
                raise SweepError(f"{where}: shape entry {v!r} must be [width, depth] or [width, depth, n_heads] (>0)")
        values = [tuple(v) for v in value]
    else:
        values = value if isinstance(value, list) else [value]
        if not values:
            raise SweepError(f"{where}: {key} is an empty list; give at least one value")
        if any(isinstance(v, (list, dict)) for v in values):
            raise SweepError(f"{where}: {key} must be a value or a list of values, got {value!r}")
    dupes = sorted({repr(v) for v in values if values.count(v) > 1})
    if dupes:
        raise SweepError(f"{where}: {key} lists {', '.join(dupes)} more than once")
    return values


def _check_table(table: dict[str, Any], where: str) -> None:
    for key in table:
        check_key(key, where)
    lengths = [k for k in LENGTH_KEYS if k in table]
    if len(lengths) > 1:
        both = " and ".join(lengths)
        raise SweepError(f"{where}: give one of tokens, M, flops to set the training length, not {both}")
    shapes = [k for k in (*SHAPE_KEYS, "width", "depth") if k in table]
    if any(k in SHAPE_KEYS for k in shapes) and len(shapes) > 1:
        given = ", ".join(shapes)
        raise SweepError(f"{where}: give the model size one way: shape, params, or width/depth, not {given}")
    for key in ("aspect", "width_multiple"):
        if key in table and shapes and "params" not in shapes:
            raise SweepError(f"{where}: {key} only applies to params (target parameter counts), not to {shapes[0]}")


def parse_spec(data: dict[str, Any], *, source: str = "<spec>", name: str | None = None) -> SweepSpec:
    """Validate a spec given as a dict (a parsed TOML file or a preset)."""
    unknown = [k for k in data if k not in TOP_KEYS]
    if unknown:
        raise SweepError(f"{source}: unknown top-level key {unknown[0]!r}; allowed: {', '.join(TOP_KEYS)}")
    if not data.get("fixed") and not data.get("grid"):
        raise SweepError(f"{source}: the spec sets no runs (no [fixed] or [grid] table); give at least one, e.g. "
                         "[fixed] width = 64, depth = 2, tokens = 2e6 (or use --preset NAME)")
    if not isinstance(data.get("fixed", {}), dict):
        raise SweepError(f"{source}: [fixed] must be a table of options, got {data['fixed']!r}")
    fixed = dict(data.get("fixed", {}))
    _check_table(fixed, f"{source} [fixed]")
    for key, value in fixed.items():
        if isinstance(value, list) and (key != "shape" or (value and isinstance(value[0], list))):
            raise SweepError(f"{source} [fixed]: {key} is a list; lists belong in a [[grid]] table")
    if "shape" in fixed:
        shapes = _as_list("shape", [fixed["shape"]], f"{source} [fixed]")
        fixed["shape"] = shapes[0]
    raw = data.get("grid", [{}])
    raw = [raw] if isinstance(raw, dict) else raw
    if not isinstance(raw, list) or not all(isinstance(g, dict) for g in raw) or not raw:
        raise SweepError(f"{source}: grid must be a table or an array of tables ([[grid]])")
    grids = []
    for i, grid in enumerate(raw, 1):
        where = f"{source} grid #{i}"
        _check_table(grid, where)
        if any(k in grid for k in ("width", "depth")) and any(k in fixed for k in SHAPE_KEYS):
            other = " and ".join(k for k in SHAPE_KEYS if k in fixed)
            raise SweepError(f"{where}: sets width/depth while [fixed] sets {other}; set the size one way")
        values = {k: _as_list(k, v, where) for k, v in grid.items()}
        for key in EXECUTION_FIELDS:
            if len(values.get(key, [])) > 1:
                raise SweepError(f"{where}: {key} does not change what a run computes; a grid over it repeats runs")
        grids.append(values)
    sweep_name = check_name(data.get("name", name or "sweep"), f"{source}: name", SweepError)
    return SweepSpec(
        name=sweep_name, fixed=fixed, grids=tuple(grids),
        description=str(data.get("description", "")), source=source,
    )  # fmt: skip


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a TOML sweep spec."""
    path = Path(path)
    if not path.is_file():
        raise SweepError(f"sweep spec {path} not found (or use --preset NAME; `scalefit sweep --list` lists them)")
    data = read_toml(path, SweepError, "sweep spec")
    return parse_spec(data, source=str(path), name=path.stem)


def with_overrides(spec: SweepSpec, overrides: dict[str, Any]) -> SweepSpec:
    """Set fixed options (from ``--set``); refused for keys that a grid varies."""
    for key in overrides:
        check_key(key, "--set")
        for i, grid in enumerate(spec.grids, 1):
            if _same_group(key, grid):
                raise SweepError(f"--set {key}: grid #{i} of {spec.source} varies it; edit the spec instead")
    fixed = _merge(spec.fixed, overrides)
    _check_table(fixed, "--set")
    return replace(spec, fixed=fixed)


def _same_group(key: str, grid: dict[str, Any]) -> bool:
    """Whether ``grid`` sets ``key`` or another key that decides the same thing (length, shape)."""
    groups = (LENGTH_KEYS, (*SHAPE_KEYS, "width", "depth"))
    return key in grid or any(key in g and any(k in grid for k in g) for g in groups)


def _merge(fixed: dict[str, Any], combo: dict[str, Any]) -> dict[str, Any]:
    merged = dict(fixed)
    if any(k in combo for k in LENGTH_KEYS):
        for k in LENGTH_KEYS:
            merged.pop(k, None)
    if any(k in combo for k in SHAPE_KEYS):
        for k in (*SHAPE_KEYS, "width", "depth"):
            merged.pop(k, None)
    merged.update(combo)
    return merged


MAX_TOKENS = 1e15  # training tokens of one proxy run, at most (beyond any proxy budget; keeps counts in int64)


def _plan_one(spec: SweepSpec, values: dict[str, Any], where: str) -> PlannedRun:
    options = {k: v for k, v in values.items() if k not in SWEEP_KEYS}
    if "shape" in values:
        options.update(zip(("width", "depth", "n_heads"), values["shape"]))
    try:
        cfg = make_config(overrides={**options, "name": spec.name})
        if "params" in values:
            aspect = float(values.get("aspect", DEFAULT_ASPECT))
            multiple = int(values.get("width_multiple", 8))
            width, depth = shape_for_params(
                float(values["params"]), cfg.model_config(), aspect=aspect, width_multiple=multiple
            )
            cfg = make_config(overrides={**options, "name": spec.name, "width": width, "depth": depth})
    except ConfigError as exc:
        raise SweepError(f"{where}: {exc}") from None
    mcfg = cfg.model_config()
    n_params = count_params(mcfg)["n_params"]
    fpt = flops_per_token(mcfg)
    if "tokens" in values:
        raw = float(values["tokens"])
    elif "flops" in values:
        raw = float(values["flops"]) / fpt
    else:
        raw = float(values.get("M", cfg.tokens_per_param)) * n_params
    batch = cfg.batch_size * cfg.seq_len
    if not (raw > 0 and math.isfinite(raw)):
        raise SweepError(f"{where}: the training length must be positive, got {raw:g} tokens")
    if raw > MAX_TOKENS:
        raise SweepError(f"{where}: {raw:.3g} tokens is more than a proxy run can train ({MAX_TOKENS:.0e}); "
                         "lower tokens, flops or M")
    n_tokens = int(round(raw / batch)) * batch
    if n_tokens < batch:
        raise SweepError(
            f"{where}: N={n_params:,} gets {raw:,.0f} tokens, less than one batch ({cfg.batch_size} x {cfg.seq_len} "
            f"= {batch} tokens); raise the length or lower batch_size/seq_len"
        )
    cfg = replace(cfg, n_tokens=n_tokens)
    return PlannedRun(cfg, run_id(cfg), n_params, n_tokens, float(fpt) * n_tokens, where, dict(values))


def _branches(trunk: PlannedRun) -> list[PlannedRun]:
    """The cooldown branches of a WSD trunk (``cooldown_branches``), as planned runs of their own."""
    if not trunk.config.cooldown_branches:
        return []
    try:
        configs = branch_configs(trunk.config)
    except ConfigError as exc:
        raise SweepError(f"{trunk.where}: {exc}") from None
    per_token = trunk.flops / trunk.n_tokens
    return [PlannedRun(cfg, run_id(cfg), trunk.n_params, cfg.n_tokens, per_token * cfg.n_tokens,
                       f"{trunk.where} branch", {**trunk.axes, "branch_tokens": cfg.n_tokens}, trunk.run_id)
            for cfg in configs]


def expand(spec: SweepSpec) -> list[PlannedRun]:
    """All runs of the spec, grid by grid, in the order written. Refuses duplicate runs."""
    runs: list[PlannedRun] = []
    seen: dict[str, PlannedRun] = {}
    for i, grid in enumerate(spec.grids, 1):
        keys = list(grid)
        for combo in itertools.product(*(grid[k] for k in keys)):
            values = _merge(spec.fixed, dict(zip(keys, combo)))
            shown = {k: v for k, v in zip(keys, combo) if len(grid[k]) > 1}
            planned = _plan_one(spec, values, f"{spec.source} grid #{i} {_fmt(shown)}".rstrip())
            planned = replace(planned, where=f"grid #{i}", axes=shown)
            if planned.run_id in seen:
                first = seen[planned.run_id]
                raise SweepError(
                    f"{spec.source}: {first.where} {_fmt(first.axes)} and grid #{i} {_fmt(shown)} are the same run "
                    f"(width {planned.config.width}, depth {planned.config.depth}, D={planned.n_tokens:,}); "
                    "remove one or make the values distinct"
                )
            for run in [planned, *_branches(planned)]:  # a WSD trunk's cooldown branches follow it
                if run is not planned and run.run_id in seen:
                    raise SweepError(f"{spec.source}: grid #{i} {_fmt(shown)}: its cooldown branch of "
                                     f"{run.n_tokens:,} tokens is also a run of the sweep; remove one")
                seen[run.run_id] = run
                runs.append(run)
    for corpus in dict.fromkeys(r.config.corpus for r in runs):  # a device or an oversized text: refused up front
        problem = corpus_problem(corpus)
        if problem:
            raise SweepError(f"{spec.source}: corpus {corpus!r} {problem}")
    return runs


def _fmt(axes: dict[str, Any]) -> str:
    return "(" + ", ".join(f"{k}={_fmt_value(v)}" for k, v in axes.items()) + ")" if axes else ""


def _fmt_value(v: Any) -> str:
    if isinstance(v, tuple):
        return "x".join(str(x) for x in v)
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def spec_to_toml(spec: SweepSpec) -> str:
    """The spec as TOML text (a starting point for a custom sweep: ``scalefit sweep --preset X --show-spec``)."""
    lines = [f"name = {_toml(spec.name)}"]
    if spec.description:
        lines.append(f"description = {_toml(spec.description)}")
    lines += ["", "[fixed]"] + [f"{k} = {_toml(v)}" for k, v in spec.fixed.items()]
    for grid in spec.grids:
        lines += ["", "[[grid]]"]
        lines += [f"{k} = {_toml(v if len(v) > 1 or k == 'shape' else v[0])}" for k, v in grid.items()]
    return "\n".join(lines) + "\n"


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else ("nan" if math.isnan(v) else ("inf" if v > 0 else "-inf"))
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml(x) for x in v) + "]"
    return str(v)
