"""The fast tracker read paths (issue 26) give what the libraries' plain readers give: TensorBoard's data server vs
its Python EventAccumulator, MLflow's metrics table read in bulk vs MlflowClient.get_metric_history, the parts
assembled without per-row work vs concatenated and deduplicated row by row; and W&B Parquet history exports."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scalefit.errors import StitchWarning, TrackerError
from scalefit.runs import read_runs
from scalefit.runs.trackers import tb_server
from scalefit.runs.trackers.parts import Part, assemble, flatten, latest_wins, wide


def _read(ref: str) -> tuple[pd.DataFrame, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = read_runs(ref).frame
    return frame, [str(w.message) for w in caught if issubclass(w.category, StitchWarning)]


# --- TensorBoard: the data server and the Python reader agree --------------------------------------------------


@pytest.fixture(scope="module")
def tb_log(tmp_path_factory):
    """Two runs with HParams and two tags; run b resumed from step 40 into a second event file in its folder."""
    from torch.utils.tensorboard import SummaryWriter
    from torch.utils.tensorboard.summary import hparams

    root = tmp_path_factory.mktemp("tb")
    for name, lr in (("a", 0.1), ("b", 0.2)):
        w = SummaryWriter(str(root / name))
        for s in hparams({"lr": lr, "name": name, "wide": name == "b"}, {})[:2]:
            w.file_writer.add_summary(s)
        for step in range(1, 61):
            w.add_scalar("loss", 3.0 / step + lr, step)
            if step % 3 == 0:
                w.add_scalar("eval/loss", 4.0 / step, step)  # a sparser tag: NaN between its steps
        w.close()
    (first,) = (root / "b").glob("events.out.tfevents.*")
    w = SummaryWriter(str(root / "b"), filename_suffix=".resumed")
    for step in range(40, 81):
        w.add_scalar("loss", 9.0 / step, step)
    w.close()
    assert len(list((root / "b").glob("events.out.tfevents.*"))) == 2 and first.exists()
    return root


def test_tensorboard_data_server_equals_the_python_reader(tb_log, monkeypatch):
    assert tb_server.binary() is not None  # the wheel on CI's platform ships the server: the fast path is tested
    fast, fast_warn = _read(f"tb:{tb_log}")
    monkeypatch.setattr(tb_server, "binary", lambda: None)
    slow, slow_warn = _read(f"tb:{tb_log}")
    pd.testing.assert_frame_equal(fast.drop(columns="wall_time"), slow.drop(columns="wall_time"))
    assert np.all(np.abs(fast["wall_time"].to_numpy() - slow["wall_time"].to_numpy()) < 60)
    assert fast_warn == slow_warn and len(fast_warn) == 1 and "21 step(s) logged twice (40..60)" in fast_warn[0]
    b = fast[fast["run_id"] == "b"]
    assert b["step"].tolist() == list(range(1, 81)) and b["part"].nunique() == 2  # each event file a part
    assert b.loc[b["step"] == 50, "loss"].item() == pytest.approx(9.0 / 50)  # the resumed file's value won
    assert fast["config.lr"].tolist() == [0.1] * 60 + [0.2] * 80 and set(fast["config.wide"]) == {False, True}
    assert fast["eval/loss"].notna().sum() == 20 + 13  # run b's steps 42..60 of the first file were replaced


def test_hparams_names_are_the_plugins():
    from tensorboard.plugins.hparams import metadata

    assert (tb_server._HPARAMS_PLUGIN, tb_server._SESSION_START) == (metadata.PLUGIN_NAME,
                                                                     metadata.SESSION_START_INFO_TAG)


def test_tensorboard_server_read_errors_name_the_file(tmp_path):
    from torch.utils.tensorboard import SummaryWriter

    for name in ("ok", "bad"):
        w = SummaryWriter(str(tmp_path / name))
        for s in range(30):
            w.add_scalar("loss", 1.0 / (s + 1), s)
        w.close()
    (bad,) = (tmp_path / "bad").glob("events.out.tfevents.*")
    data = bytearray(bad.read_bytes())
    data[len(data) // 2] ^= 0x40
    bad.write_bytes(bytes(data))
    with pytest.raises(TrackerError, match=f"^{bad}: corrupt TensorBoard event file"):
        read_runs(f"tb:{tmp_path}")
    bad.write_bytes(b"")
    with pytest.raises(TrackerError, match=f"^{bad}: not a readable TensorBoard event file \\(no events\\)"):
        read_runs(f"tb:{tmp_path}")
    bad.unlink()
    assert len(read_runs(f"tb:{tmp_path}")) == 30


# --- MLflow: the metrics table read in bulk equals the client's histories --------------------------------------


@pytest.fixture(scope="module")
def mlflow_db(tmp_path_factory):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    db = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    client = MlflowClient(tracking_uri=f"sqlite:///{db}")
    other = client.create_experiment("other")  # rows of another experiment are never read
    client.log_batch(client.create_run(other).info.run_id, metrics=[Metric("loss", 7.0, 1, 1)])
    exp = client.create_experiment("sweep")
    for k in range(3):
        rid = client.create_run(exp, run_name=f"r{k}", start_time=1000 + k).info.run_id
        client.log_batch(rid, params=[Param("lr", str(0.1 * (k + 1))), Param("name", f"r{k}")])
        points = [Metric("loss", 1.0 / (s + k + 1), 10_000 + s, s) for s in range(50)]
        points += [Metric("acc", s / 50, 10_000 + s, s) for s in range(0, 50, 5)]
        if k == 1:  # special values, and a continued run re-logging steps 40..49 later
            points += [Metric("weird", v, 10_000 + s, s) for s, v in enumerate([np.nan, np.inf, -np.inf, 2.5])]
            points += [Metric("loss", -1.0 * s, 20_000 + s, s) for s in range(40, 50)]
        client.log_batch(rid, metrics=points)
    return db


def test_mlflow_bulk_read_equals_the_client(mlflow_db, monkeypatch):
    from scalefit.runs.trackers import mlflow_store

    ref = f"mlflow:sqlite:///{mlflow_db}#sweep"
    fast, fast_warn = _read(ref)
    monkeypatch.setattr(mlflow_store, "_sqlite_histories", lambda *a: None)
    slow, slow_warn = _read(ref)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast_warn == slow_warn and len(fast_warn) == 1 and "10 metric point(s) logged twice" in fast_warn[0]
    assert len(fast) == 150 and fast["config.name"].tolist() == ["r0"] * 50 + ["r1"] * 50 + ["r2"] * 50
    r1 = fast[fast["run_name"] == "r1"].set_index("step")
    assert r1.loc[45, "loss"] == -45.0  # the continued run's later value
    assert np.isnan(r1.loc[0, "weird"]) and r1.loc[1, "weird"] > 1e308 and r1.loc[2, "weird"] < -1e308


def test_mlflow_unknown_schema_reads_through_the_client(mlflow_db, monkeypatch):
    from scalefit.runs.trackers import mlflow_store

    calls = []
    real = mlflow_store._client_histories
    monkeypatch.setattr(mlflow_store, "_client_histories", lambda *a: calls.append(1) or real(*a))
    monkeypatch.setattr(mlflow_store, "SQL_COLUMNS", (*mlflow_store.SQL_COLUMNS, "a_column_mlflow_never_had"))
    frame, _ = _read(f"mlflow:sqlite:///{mlflow_db}#sweep")
    assert len(calls) == 3 and len(frame) == 150


def test_mlflow_file_store_bulk_read_equals_the_client(tmp_path, monkeypatch):
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    from scalefit.runs.trackers import mlflow_store

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    client = MlflowClient(tracking_uri=str(tmp_path / "mlruns"))
    exp = client.create_experiment("legacy")
    for k in range(2):
        rid = client.create_run(exp, run_name=f"r{k}", start_time=1000 + k).info.run_id
        points = [Metric("loss", 1 / 3 + s / 7, 10_000 + s, s) for s in range(30)]
        points += [Metric("weird", v, 10_000 + s, s) for s, v in enumerate([np.nan, np.inf, -np.inf, 1e-300])]
        points += [Metric("loss", -1.0 * s, 20_000 + s, s) for s in range(25, 30)]  # a continued run re-logs
        client.log_batch(rid, metrics=points, params=[Param("lr", str(0.1 * (k + 1)))])
    odd = tmp_path / "mlruns" / exp / rid / "metrics" / "weird"
    odd.write_text(odd.read_text() + "10099 5.0\n")  # a 2-field line (step 0, by MLflow's rule): the client reads it
    ref = f"mlflow:{tmp_path / 'mlruns'}#legacy"
    calls = []
    real = mlflow_store._client_histories
    monkeypatch.setattr(mlflow_store, "_client_histories", lambda *a: calls.append(a[2:]) or real(*a))
    fast, fast_warn = _read(ref)
    assert calls == [(["weird"],)]  # the other files were parsed whole
    monkeypatch.setattr(mlflow_store, "_file_histories", lambda *a: None)
    slow, slow_warn = _read(ref)
    pd.testing.assert_frame_equal(fast, slow)
    assert fast_warn == slow_warn and len(fast) == 60 and fast["loss"].iloc[27] == -27.0
    assert fast.loc[fast["run_name"] == "r1", "weird"].iloc[0] == 5.0  # step 0 re-logged by the 2-field line


# --- W&B Parquet history exports -------------------------------------------------------------------------------


def _export(root, run: str, steps, loss, chunks: int = 1, config: str | None = None, **metrics):
    folder = root / f"run-{run}-history:v0"
    folder.mkdir(parents=True)
    frame = pd.DataFrame({"_step": steps, "_runtime": np.asarray(steps) * 0.5,
                          "_timestamp": 1.7e9 + np.asarray(steps), "loss": loss, **metrics})
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), chunks)):
        frame.iloc[rows].to_parquet(folder / f"{i:04d}.parquet", index=False)
    if config is not None:
        (folder / "config.yaml").write_text(config)
    return folder


def test_wandb_history_export_reads_every_row_with_its_config(tmp_path):
    _export(tmp_path, "abc", list(range(100)), np.linspace(3, 2, 100), chunks=3,
            config="_wandb:\n  value: {cli_version: 0.31.0}\nlr:\n  desc: null\n  value: 0.001\nname:\n  value: big\n")
    _export(tmp_path, "def", list(range(50)), np.linspace(4, 3, 50))
    frame, _ = _read(f"wandb:{tmp_path}")
    assert len(frame) == 150 and frame["run_id"].unique().tolist() == ["abc", "def"]
    abc = frame[frame["run_id"] == "abc"]
    assert abc["step"].tolist() == list(range(100)) and np.array_equal(abc["loss"], np.linspace(3, 2, 100))
    assert abc["config.lr"].unique().tolist() == [0.001] and abc["config.name"].unique().tolist() == ["big"]
    assert "config._wandb" not in frame.columns and {"_runtime", "_timestamp"} <= set(frame.columns)
    assert frame.loc[frame["run_id"] == "def", "config.lr"].isna().all()  # no config.yaml: no config
    (one,) = (tmp_path / "run-def-history:v0").glob("*.parquet")
    assert len(read_runs(f"wandb:{one}")) == 50  # a single file


def test_wandb_history_export_chunks_out_of_step_order_come_back_by_step(tmp_path):
    # chunk 0000 holds steps 50-99 and 0001 steps 0-49: rows come back by step, each with its own values
    steps = [*range(50, 100), *range(50)]
    _export(tmp_path, "abc", steps, np.asarray(steps) / 100.0, chunks=2)
    frame, _ = _read(f"wandb:{tmp_path}")
    assert frame["step"].tolist() == list(range(100)) and np.array_equal(frame["loss"], np.arange(100) / 100.0)
    assert np.array_equal(frame["_runtime"], np.arange(100) * 0.5)


def test_readme_export_recipe_runs(tmp_path, monkeypatch):
    """The README's W&B export command, as written, on exports laid out as its download lines leave them."""
    import shlex

    from typer.testing import CliRunner

    import scalefit
    from scalefit.cli.app import app
    from tests.runs.test_trackers import readme_recipe

    steps = np.arange(1, 201)
    for i, n in enumerate([1e6, 2e6, 4e6, 8e6, 1.6e7, 3.2e7]):
        tokens = steps * 40 * n / 200
        _export(tmp_path / "history", f"r{i}", steps, 1.8 + 400 / n**0.34 + 2000 / tokens**0.37, chunks=2,
                config=f"n_params:\n  value: {n}\nname:\n  value: r{i}\n", tokens=tokens)
    monkeypatch.chdir(tmp_path)
    args = shlex.split(readme_recipe()["wandb-export"])
    res = CliRunner().invoke(app, args[1:])
    assert res.exit_code == 0, res.output
    assert scalefit.load(args[args.index("--out") + 1]).stats["n"] == 6


def test_wandb_history_export_bad_input_names_the_file(tmp_path):
    folder = _export(tmp_path / "a", "x", [0, 1, 2], [1.0, 2.0, 3.0])
    (f,) = folder.glob("*.parquet")
    pd.DataFrame({"step": [0], "loss": [1.0]}).to_parquet(f)
    with pytest.raises(TrackerError, match=f"^{f}: no _step column"):
        read_runs(f"wandb:{tmp_path / 'a'}")
    pd.DataFrame({"_step": [0, 1], "loss": [1.0, 2.0], "phase": ["warm", "up"]}).to_parquet(f)
    with pytest.raises(TrackerError, match=f"^{f}: step 0: metric 'phase' is 'warm', not a number"):
        read_runs(f"wandb:{tmp_path / 'a'}")
    f.write_bytes(b"PAR1 not really")
    with pytest.raises(TrackerError, match=f"^{f}: not a readable Parquet file"):
        read_runs(f"wandb:{tmp_path / 'a'}")
    pd.DataFrame({"_step": [0], "loss": [1.0]}).to_parquet(f)
    (folder / "config.yaml").write_text("- a list\n")
    with pytest.raises(TrackerError, match=f"^{folder / 'config.yaml'}: a W&B config.yaml maps each key"):
        read_runs(f"wandb:{tmp_path / 'a'}")


# --- parts: the assembled frame equals the row-by-row reference ------------------------------------------------


def _reference(parts: list[Part], source: str) -> pd.DataFrame:
    """What assemble did before it broadcast per part: assign per part, concatenate, keep the last of each step."""
    ordered = sorted(parts, key=lambda p: (p.start, p.label))
    frame = pd.concat([p.metrics.assign(run_id=p.run_id, run_name=p.run_name, part=p.label, **flatten(p.config))
                       for p in ordered], ignore_index=True, sort=False)
    metrics = [c for c in frame.columns if c not in ("run_id", "run_name", "part", "step")
               and not c.startswith("config.")]
    configs = sorted(c for c in frame.columns if c.startswith("config."))
    return latest_wins(frame[["run_id", "run_name", "part", "step", *metrics, *configs]], source)


part_strategy = st.builds(
    lambda run, start, steps, config, metric: Part(
        run, run.upper(), f"{run}-{start}", float(start),
        pd.DataFrame({"step": np.array(steps, dtype=np.int64), metric: np.arange(len(steps), dtype=float)}), config),
    st.sampled_from(["a", "b", "c"]), st.integers(0, 5),
    st.lists(st.integers(0, 30), min_size=1, max_size=12),
    st.dictionaries(st.sampled_from(["lr", "name", "wide"]),
                    st.one_of(st.floats(0.001, 1.0), st.integers(1, 9), st.text("xyz", min_size=1, max_size=3),
                              st.booleans()), max_size=3),
    st.sampled_from(["loss", "acc"]))


@settings(max_examples=40, deadline=None)
@given(st.lists(part_strategy, min_size=1, max_size=5, unique_by=lambda p: p.label))
def test_assembled_frame_equals_the_row_by_row_reference(parts):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", StitchWarning)
        got = assemble(parts, "src")
        want = _reference(parts, "src")
    pd.testing.assert_frame_equal(got, want, check_dtype=False)
    assert list(got.dtypes.astype(str)) == list(want.dtypes.astype(str))


def _wide_reference(columns: dict) -> tuple[pd.DataFrame, int]:
    """Each series by step (the last of a repeated step kept), outer-joined on step, sorted."""
    frame, repeats = pd.DataFrame({"step": pd.Series([], dtype=np.int64)}), 0
    for name, (steps, values) in columns.items():
        s = pd.DataFrame({"step": np.asarray(steps, dtype=np.int64), name: np.asarray(values, dtype=float)})
        last = s.drop_duplicates("step", keep="last")
        repeats += len(s) - len(last)
        frame = frame.merge(last, on="step", how="outer")
    return frame.sort_values("step", ignore_index=True), repeats


series_strategy = st.lists(st.integers(0, 20), min_size=1, max_size=15).map(
    lambda steps: (np.array(steps, dtype=np.int64), np.arange(len(steps), dtype=float) * 0.5))


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.sampled_from(["loss", "acc", "__wall_time__"]), series_strategy, min_size=1),
       st.booleans())
def test_wide_equals_the_outer_join_on_step(columns, same_axis):
    if same_axis:  # the common case: every series on one increasing step axis (the join is skipped)
        axis = np.unique(next(iter(columns.values()))[0])
        columns = {k: (axis, np.arange(len(axis), dtype=float) + i) for i, k in enumerate(columns)}
    got, repeats = wide(columns, "src")
    want, want_repeats = _wide_reference(columns)
    assert repeats == want_repeats
    pd.testing.assert_frame_equal(got, want[got.columns.tolist()])
    assert got.columns.tolist() == ["step", *columns]
