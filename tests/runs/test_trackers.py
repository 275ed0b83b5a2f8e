"""Tracker readers (issue 26): a sweep written with each tracker's own library (TensorBoard's SummaryWriter, MLflow's
client on sqlite, wandb offline) reads back point for point, the resumed run stitched whole, the config beside the
metrics, and the Chinchilla fit on it equals the fit on the same data as CSV. Bad stores: one line, exit 1."""

from __future__ import annotations

import os
import shlex
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from scalefit.cli.app import app
from scalefit.errors import RunDataError, StitchWarning
from scalefit.runs import read_runs

STEPS = 2000
N = [1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7]
SPLIT, RESUME = 1200, 1001  # run0: part a logs 1..1200, part b (resumed) 1001..2000; 1001..1200 are logged twice


def truth() -> pd.DataFrame:
    """6 runs x 2,000 steps of a Chinchilla-shaped curve (seeded noise)."""
    rng = np.random.default_rng(0)
    rows = []
    for i, n in enumerate(N):
        step = np.arange(1, STEPS + 1)
        tokens = step * (40 * n / STEPS)
        loss = 1.8 + 400 / n**0.34 + 2000 / tokens**0.37 + rng.normal(0, 0.01, STEPS)
        rows.append(pd.DataFrame({"name": f"run{i}", "n_params": n, "lr": 1e-3 * (i + 1), "step": step,
                                  "tokens": tokens, "loss": loss}))
    return pd.concat(rows, ignore_index=True)


def parts(frame: pd.DataFrame):
    """(tracker run name, config, rows) in write order; run0 in two parts, part a with stale values on its tail."""
    for name, rows in frame.groupby("name", sort=False):
        config = {"name": name, "n_params": float(rows["n_params"].iloc[0]), "lr": float(rows["lr"].iloc[0])}
        if name != "run0":
            yield name, config, rows
            continue
        a = rows[rows["step"] <= SPLIT].copy()
        a.loc[a["step"] >= RESUME, "loss"] += 0.5  # what the crashed part logged; the resumed part re-logs it
        yield "run0a", config, a
        yield "run0b", config, rows[rows["step"] >= RESUME]


def write_tb(root, frame):
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    for run, config, rows in parts(frame):
        w = SummaryWriter(str(root / run))
        for s in hparams(config, {})[:2]:
            w.file_writer.add_summary(s)
        for step, tokens, loss in zip(rows["step"], rows["tokens"], rows["loss"]):
            w.add_scalar("loss", loss, int(step))
            w.add_scalar("tokens", tokens, int(step))
        w.close()


def write_mlflow(db, frame):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    exp = client.create_experiment("sweep")
    for k, (run, config, rows) in enumerate(parts(frame)):
        rid = client.create_run(exp, run_name=run, start_time=1_000_000 + k).info.run_id
        client.log_batch(rid, params=[Param(key, str(v)) for key, v in config.items()])
        metrics = [Metric(key, float(v), 1_000_000 + int(s), int(s)) for s, t, lo in
                   zip(rows["step"], rows["tokens"], rows["loss"]) for key, v in (("loss", lo), ("tokens", t))]
        for i in range(0, len(metrics), 1000):
            client.log_batch(rid, metrics=metrics[i:i + 1000])
        client.set_terminated(rid)


def write_wandb(root, frame):
    import wandb

    settings = wandb.Settings(console="off", x_disable_stats=True, save_code=False, disable_git=True, silent=True)
    for run, config, rows in parts(frame):
        r = wandb.init(project="sweep", group="sweep", name=run, id=run, config=config, dir=str(root),
                       mode="offline", settings=settings, reinit="create_new")
        for step, tokens, loss in zip(rows["step"], rows["tokens"], rows["loss"]):
            r.log({"loss": float(loss), "tokens": float(tokens)}, step=int(step))
        r.finish()


@pytest.fixture(scope="module", autouse=True)
def _wandb_offline(tmp_path_factory):
    keep = {k: os.environ.get(k) for k in ("WANDB_MODE", "WANDB_SILENT", "WANDB_DIR", "SCALEFIT_CACHE")}
    os.environ.update(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(tmp_path_factory.mktemp("wandb")),
                      SCALEFIT_CACHE=str(tmp_path_factory.mktemp("cache")))  # the offline reader's cache: never ~
    yield
    for k, v in keep.items():
        os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)


@pytest.fixture(scope="module", params=["tb", "mlflow", "wandb"])
def store(request, tmp_path_factory):
    """(reference, the values as the store keeps them) for each tracker."""
    frame = truth()
    root = tmp_path_factory.mktemp(request.param)
    if request.param == "tb":
        write_tb(root, frame)
        kept = frame.assign(loss=frame["loss"].astype(np.float32).astype(float),  # TensorBoard keeps float32
                            tokens=frame["tokens"].astype(np.float32).astype(float))
        return f"tb:{root}", kept
    if request.param == "mlflow":
        write_mlflow(root / "mlflow.db", frame)
        return f"mlflow:sqlite:///{root / 'mlflow.db'}#sweep", frame
    write_wandb(root, frame)
    return f"wandb:{root}", frame


@pytest.fixture(scope="module")
def stitched(store):
    """The store read with ?stitch=config.name (read_runs, as the CLI does), and the stitch warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = read_runs(store[0] + "?stitch=config.name")
    return table, [str(w.message) for w in caught if issubclass(w.category, StitchWarning)]


@pytest.fixture(scope="module")
def parts_read(store):
    """The store's parts, read once (the other layouts below are assembled from them)."""
    from scalefit.runs.trackers import read_parts

    return read_parts(store[0])


def test_every_point_read_back_stitched_with_config(store, stitched):
    _, kept = store
    table, stitch = stitched
    assert len(stitch) == 1 and "run run0: 200 step(s) logged twice (1001..1200)" in stitch[0], stitch
    frame = table.frame.sort_values(["run_id", "step"]).reset_index(drop=True)
    assert len(frame) == len(kept) == 6 * STEPS  # every point, once
    assert sorted(frame["run_id"].unique()) == [f"run{i}" for i in range(6)]
    assert {"config.name", "config.n_params", "config.lr"} <= set(frame.columns)
    want = kept.sort_values(["name", "step"]).reset_index(drop=True)
    np.testing.assert_array_equal(frame["step"].to_numpy(), want["step"].to_numpy())
    np.testing.assert_array_equal(frame["loss"].to_numpy(), want["loss"].to_numpy())  # the resumed values won
    np.testing.assert_array_equal(frame["tokens"].to_numpy(), want["tokens"].to_numpy())
    np.testing.assert_array_equal(frame["config.n_params"].to_numpy(dtype=float), want["n_params"].to_numpy())
    run0 = frame[frame["run_id"] == "run0"]
    assert run0["step"].tolist() == list(range(1, STEPS + 1))  # the stitched run is whole
    assert run0["part"].nunique() == 2


def test_unstitched_runs_are_the_tracker_runs(store, parts_read):
    from scalefit.runs.trackers.parts import assemble

    frame = assemble(parts_read, store[0])
    assert frame["run_name"].nunique() == 7  # run0a and run0b apart
    assert len(frame) == 6 * STEPS + (SPLIT - RESUME + 1)


def test_chinchilla_fit_equals_the_fit_on_the_same_data_as_csv(store, stitched, tmp_path):
    from scalefit.fitting import fit

    _, kept = store
    starts = np.array([[1.5, 300.0, 1500.0, 0.3, 0.3], [2.0, 500.0, 2500.0, 0.4, 0.4]])  # E, A, B, alpha, beta
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_tracker = fit("chinchilla", stitched[0], where="step > 1800", starts=starts, calibrate=False)
        csv = tmp_path / "same.csv"
        kept.rename(columns={"name": "run_id"}).to_csv(csv, index=False)
        on_csv = fit("chinchilla", csv, where="step > 1800", starts=starts, calibrate=False)
    assert on_tracker.stats["n"] == on_csv.stats["n"] == 6 * 200
    assert abs(on_tracker.stats["objective"] - on_csv.stats["objective"]) <= 1e-12 * max(1.0, on_csv.stats[
        "objective"])
    for name, value in on_csv.params.items():
        assert on_tracker.params[name] == pytest.approx(value, rel=1e-9)


def test_stitch_by_a_missing_column_names_it(store, parts_read):
    from scalefit.runs.trackers.parts import assemble

    with pytest.raises(RunDataError, match="--stitch config.nme: no such column"):
        assemble(parts_read, store[0], "config.nme")


# --- bad input: one line naming what and where, exit 1, nothing written ------------------------------------------


def _cli_fails(ref: str, tmp_path, match: str) -> None:
    out = tmp_path / "fit.json"
    res = CliRunner().invoke(app, ["fit", "chinchilla", ref, "--out", str(out)])
    assert res.exit_code == 1, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1 and match in lines[0], res.output
    assert not out.exists()


def test_empty_log_dir(tmp_path):
    (tmp_path / "logs").mkdir()
    _cli_fails(f"tb:{tmp_path / 'logs'}", tmp_path, f"tb:{tmp_path / 'logs'}: no TensorBoard event files")


def test_corrupt_event_file(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    w = SummaryWriter(str(tmp_path / "logs" / "a"))
    for s in range(50):
        w.add_scalar("loss", 1.0 / (s + 1), s)
    w.close()
    (f,) = (tmp_path / "logs" / "a").glob("events.out.tfevents.*")
    data = bytearray(f.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte in the middle
    f.write_bytes(bytes(data))
    _cli_fails(f"tb:{tmp_path / 'logs'}", tmp_path, f"{f}: corrupt TensorBoard event file")
    f.write_bytes(os.urandom(3000))
    _cli_fails(f"tb:{tmp_path / 'logs'}", tmp_path, f"{f}: not a readable TensorBoard event file")


def test_missing_experiment_and_missing_store(tmp_path):
    from mlflow.tracking import MlflowClient

    db = tmp_path / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{db}").create_experiment("sweep")
    _cli_fails(f"mlflow:sqlite:///{db}#nope", tmp_path, "no experiment 'nope' in the store; experiments there: ")
    _cli_fails(f"mlflow:{tmp_path / 'absent.db'}#sweep", tmp_path, "no tracking store at")
    assert not (tmp_path / "absent.db").exists()  # never created


def test_wandb_folder_from_a_newer_version_and_a_non_numeric_metric(tmp_path):
    import wandb

    settings = wandb.Settings(console="off", x_disable_stats=True, save_code=False, disable_git=True, silent=True)
    r = wandb.init(project="p", name="r", id="textual", dir=str(tmp_path), mode="offline", settings=settings,
                   reinit="create_new")
    for s in range(5):
        r.log({"loss": 1.0 / (s + 1), "phase": "warmup" if s == 3 else 0.0}, step=s)
    r.finish()
    (f,) = tmp_path.rglob("run-*.wandb")
    _cli_fails(f"wandb:{tmp_path}", tmp_path, f"{f}: step 3: metric 'phase' is 'warmup', not a number")
    data = bytearray(f.read_bytes())
    data[6] = 0x02  # the transaction log's format version: one this wandb does not know
    f.write_bytes(bytes(data))
    _cli_fails(f"wandb:{tmp_path}", tmp_path, "(a newer wandb version is required to read this file); upgrade wandb")


def test_wandb_offline_reads_are_cached_by_content(tmp_path, monkeypatch):
    import shutil

    import wandb

    from scalefit.runs.trackers import wandb_offline

    monkeypatch.setenv("SCALEFIT_CACHE", str(tmp_path / "cache"))
    settings = wandb.Settings(console="off", x_disable_stats=True, save_code=False, disable_git=True, silent=True)
    r = wandb.init(project="p", name="cached", id="cached", dir=str(tmp_path / "a"), mode="offline",
                   settings=settings, config={"lr": 0.01, "model": {"width": 64}}, reinit="create_new")
    for s in range(40):
        r.log({"loss": 3.0 - s / 40}, step=s)
    r.finish()
    first = read_runs(f"wandb:{tmp_path / 'a'}").frame
    assert len(first) == 40 and first["config.model.width"].tolist() == [64] * 40
    (entry,) = (tmp_path / "cache" / "wandb" / "offline").glob("*.parquet")  # one log, one entry, in the cache only
    assert not any(p.suffix == ".parquet" for p in (tmp_path / "a").rglob("*"))

    def no_core(core, f):
        raise AssertionError(f"{f} was read with wandb-core")

    shutil.copytree(tmp_path / "a", tmp_path / "b", symlinks=True)  # the same bytes elsewhere: from the cache
    with monkeypatch.context() as m:
        m.setattr(wandb_offline, "_read", no_core)
        again = read_runs(f"wandb:{tmp_path / 'b'}").frame
    pd.testing.assert_frame_equal(again.drop(columns="part"), first.drop(columns="part"))
    assert set(again["part"]) == {str(next((tmp_path / "b").rglob("run-*.wandb")).parent)}  # where it is now
    entry.write_bytes(b"PAR1 damaged")  # an unreadable entry: the log is read again, and cached again
    pd.testing.assert_frame_equal(read_runs(f"wandb:{tmp_path / 'a'}").frame, first)
    (f,) = (tmp_path / "b").rglob("run-*.wandb")
    with open(f, "ab") as fh:  # new bytes (a run still writing): never the old entry
        fh.write(b"\0")
    with monkeypatch.context() as m, pytest.raises(AssertionError, match="was read with wandb-core"):
        m.setattr(wandb_offline, "_read", no_core)
        read_runs(f"wandb:{tmp_path / 'b'}")


def test_plain_folder_and_aliases(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    from scalefit.runs import column_for

    w = SummaryWriter(str(tmp_path / "r1"))
    for s in range(1, 4):
        w.add_scalar("loss", 3.0 / s, s)
    w.close()
    table = read_runs(tmp_path)  # a folder of event files is a TensorBoard log without the prefix
    assert len(table) == 3 and column_for(table, "L", {}) == "loss" and column_for(table, "step", {}) == "step"
    from scalefit.runs.table import RunTable  # the prefix rule: config./params./metrics. columns feed symbols

    t = RunTable.from_frame(pd.DataFrame({"params.n_params": [1.0], "metrics.loss": [2.0], "_step": [1]}))
    assert column_for(t, "N", {}) == "params.n_params" and column_for(t, "L", {}) == "metrics.loss"
    assert column_for(t, "step", {}) == "_step"


def test_parts_of_one_run_latest_wins_and_a_csv_stitches_too(tmp_path):
    from scalefit.runs.trackers.parts import Part, assemble

    a = Part("r", "r", "part-a", 1.0, pd.DataFrame({"step": [1, 2, 3], "loss": [3.0, 2.0, 9.9]}), {"lr": 0.1})
    b = Part("r", "r", "part-b", 2.0, pd.DataFrame({"step": [3, 4], "loss": [1.5, 1.0]}), {"lr": 0.1})
    with pytest.warns(StitchWarning, match=r"run r: 1 step\(s\) logged twice \(3..3\) by part-a; kept the later "
                                           r"rows \(from part-b\)"):
        frame = assemble([b, a], "src")  # given out of order: ordered by start
    assert frame["step"].tolist() == [1, 2, 3, 4] and frame["loss"].tolist() == [3.0, 2.0, 1.5, 1.0]
    assert frame["config.lr"].tolist() == [0.1] * 4 and frame.columns[:4].tolist() == ["run_id", "run_name",
                                                                                        "part", "step"]
    csv = tmp_path / "runs.csv"
    pd.DataFrame({"run_id": ["x1", "x1", "x2", "x2"], "name": ["x", "x", "x", "x"], "step": [1, 2, 2, 3],
                  "loss": [3.0, 9.0, 2.0, 1.0]}).to_csv(csv, index=False)
    with pytest.warns(StitchWarning, match="run x: 1 step"):
        table = read_runs(f"{csv}?stitch=name")
    assert table.frame["run_id"].tolist() == ["x", "x", "x"] and table.frame["loss"].tolist() == [3.0, 2.0, 1.0]
    assert "_part" not in table.columns


def test_mlflow_file_store_folder(tmp_path, monkeypatch):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # writing one needs the opt-out since MLflow 3.7
    client = MlflowClient(tracking_uri=str(tmp_path / "mlruns"))
    exp = client.create_experiment("legacy")
    rid = client.create_run(exp, run_name="r").info.run_id
    client.log_batch(rid, metrics=[Metric("loss", 1.0 / s, 0, s) for s in range(1, 11)],
                     params=[Param("n_params", "1000")])
    monkeypatch.delenv("MLFLOW_ALLOW_FILE_STORE")
    table = read_runs(f"mlflow:{tmp_path / 'mlruns'}#{exp}")  # by experiment id
    assert table.frame["step"].tolist() == list(range(1, 11)) and table.frame["config.n_params"].tolist() == [1000] * 10
    assert "MLFLOW_ALLOW_FILE_STORE" not in os.environ  # allowed for the read only


def readme_recipe() -> dict[str, str]:
    """The README's tracker commands ("Run logs in TensorBoard, MLflow and W&B"), by tracker."""
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    body = text[text.index("## Run logs in TensorBoard, MLflow and W&B"):]
    block = body[body.index("```shell\n") + len("```shell\n"):]
    lines = [ln for ln in block[:block.index("```")].splitlines() if ln.strip() and not ln.startswith("#")]
    out = {}
    for ln in lines:
        prefix, body = shlex.split(ln)[3].split(":", 1)
        out[prefix + ("-export" if body.startswith("history") else "")] = ln  # W&B's Parquet export: its own line
    return out


def test_readme_recipe_runs_on_the_sweep(store, tmp_path, monkeypatch):
    """The README's command for this tracker, as written, in a folder where its paths lead to this sweep."""
    import scalefit

    ref, _ = store
    kind = ref.split(":")[0]
    monkeypatch.chdir(tmp_path)
    if kind == "tb":
        (tmp_path / "logs").symlink_to(ref[len("tb:"):])
    elif kind == "mlflow":
        (tmp_path / "mlflow.db").symlink_to(ref[len("mlflow:sqlite:///"):].split("#")[0])
    else:
        (tmp_path / "wandb").symlink_to(f"{ref[len('wandb:'):]}/wandb")
    recipe = readme_recipe()
    assert sorted(recipe) == ["mlflow", "tb", "wandb", "wandb-export"]
    args = shlex.split(recipe[kind])
    assert args[0] == "scalefit"
    res = CliRunner().invoke(app, args[1:])
    assert res.exit_code == 0, (recipe[kind], res.output)
    result = scalefit.load(args[args.index("--out") + 1])
    assert result.stats["n"] == (7 if kind == "tb" else 6)  # --reduce last: one row per run (tb: not stitched)
