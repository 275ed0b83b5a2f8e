"""``scalefit train`` and the proxy library under hostile or careless input: names that would leave the output
folder, output folders that are files, binary configs, malformed corpora, a full disk. Each is one line."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import numpy as np
import pytest

from scalefit.errors import ConfigError
from scalefit.proxy.config import make_config
from scalefit.proxy.data import load_corpus
from scalefit.proxy.paths import check_name, check_out_folder
from tests.cli.test_sweep_safety import refused
from tests.proxy.conftest import tiny

BAD_NAMES = ["../../x", "/abs/x", "", " ", ".", "..", "a/b", "a\\b", "x\x00y", "x\ny", "x\x1b[2J", "C:x", "x" * 300]
TRAIN = ["train", "--corpus", "pydoc", "--width", "16", "--depth", "1", "--heads", "2", "--seq-len", "32",
         "--batch-size", "4", "--tokens", "512", "--set", "eval_tokens=256", "--set", "cloze_items=0",
         "--device", "cpu", "-q"]  # fmt: skip


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    work = tmp_path / "a" / "b" / "c"  # relative escapes (../../x) still land inside tmp_path
    work.mkdir(parents=True)
    monkeypatch.chdir(work)


@pytest.mark.parametrize("name", BAD_NAMES)
def test_names_must_be_single_folder_names(name):
    with pytest.raises(ConfigError, match=r"^name "):
        check_name(name, "name")
    with pytest.raises(ConfigError, match=r"^name "):
        make_config(overrides={"name": name})


@pytest.mark.parametrize("name", ["proxy", "my-sweep_2.1", "ünïcode", "a b", ".hidden"])
def test_ordinary_names_pass(name):
    assert check_name(name, "name") == name


def test_train_run_refuses_a_bad_name_before_writing(tmp_path):
    from scalefit.proxy.train import train_run

    with pytest.raises(ConfigError, match="name '../x'"):
        train_run(tiny(name="../x"), tmp_path / "runs")
    assert list(tmp_path.rglob("*.json")) == []


@pytest.mark.parametrize(
    "args",
    [["--name", "../../x"], ["--name", "/tmp/scalefit-escape"], ["--name", ""], ["--name", ".."],
     ["--set", "name=../../x"], ["--name", "a\\b"], ["--name", "x\x1by"]],
)  # fmt: skip
def test_train_names_that_leave_out_are_refused(tmp_path, args):
    refused(tmp_path, [*TRAIN, "--out", str(tmp_path / "runs"), *args], "name ")
    assert not Path("/tmp/scalefit-escape").exists()


def test_a_config_file_name_is_checked_too(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('name = "../../x"\n')
    refused(tmp_path, [*TRAIN, "--out", "runs", "--config", str(config)], "name '../../x'", inputs=[config])


@pytest.mark.parametrize(
    ("out", "message"), [("", "--out is empty"), ("file.txt", "is a file"), ("file.txt/sub", "lies under the file")]
)
def test_train_out_must_be_a_folder(tmp_path, out, message):
    Path("file.txt").write_text("mine\n")
    refused(tmp_path, [*TRAIN, "--out", out], message, inputs=[Path("file.txt")])
    with pytest.raises(ConfigError, match=message):
        check_out_folder(out)


@pytest.mark.parametrize("content", [b"width = 32\x00\n", b"\xff\xfe\x00w\x00", b"\x89PNG\r\n\x1a\n"])
def test_a_binary_config_is_one_line(tmp_path, content):
    config = tmp_path / "c.toml"
    config.write_bytes(content)
    refused(tmp_path, [*TRAIN, "--out", "runs", "--config", str(config)], str(config), inputs=[config])


def test_disk_full_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    def replace(src, dst, *args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", replace)
    out = tmp_path / "runs"
    refused(tmp_path, [*TRAIN, "--out", str(out)], "No space left on device", out=out)
    assert [p for p in out.rglob("*") if p.is_file()] == []  # no temp file left behind


# --------------------------------------------------------------------------- corpora


def _bin(path: Path, n_bytes: int) -> Path:
    path.write_bytes(np.arange(n_bytes, dtype=np.uint8).tobytes())
    return path


@pytest.mark.parametrize(("n_bytes", "message"), [(4097, "4097 bytes is not a whole"), (0, "0 bytes")])
def test_a_bin_corpus_of_odd_size_is_refused(tmp_path, n_bytes, message):
    corpus = _bin(tmp_path / f"ids{n_bytes}.bin", n_bytes)
    with pytest.raises(ConfigError, match=message):
        load_corpus(str(corpus), "byte", 256)
    refused(tmp_path, [*TRAIN, "--out", "runs", "--corpus", str(corpus)], message, inputs=[corpus])


def test_a_bin_folder_needs_both_splits(tmp_path):
    folder = tmp_path / "ids"
    folder.mkdir()
    _bin(folder / "train.bin", 4096)
    refused(tmp_path, [*TRAIN, "--out", "runs", "--corpus", str(folder)], "val.bin: not found")
    _bin(folder / "val.bin", 1001)
    refused(tmp_path, [*TRAIN, "--out", "runs", "--corpus", str(folder)], "val.bin: 1001 bytes")


@pytest.mark.parametrize("line", [b'{"text": 3}', b'{"text": ["a"]}', b"[1, 2]", b'"text"', b"\xff\xfe{"])
def test_a_jsonl_record_without_text_is_refused(tmp_path, line):
    corpus = tmp_path / f"c{abs(hash(line))}.jsonl"
    corpus.write_bytes(b'{"text": "one"}\n' + line + b"\n")
    refused(tmp_path, [*TRAIN, "--out", "runs", "--corpus", str(corpus)], ":2: expected a JSON object", inputs=[corpus])


def test_train_never_writes_through_a_linked_run_folder(tmp_path):
    from scalefit.errors import OutputPathError
    from scalefit.proxy.config import run_id
    from scalefit.proxy.train import train_run

    cfg = tiny(cloze_items=0, n_evals=2)
    outside = tmp_path / "outside"
    outside.mkdir()
    (tmp_path / "out" / cfg.name).mkdir(parents=True)
    (tmp_path / "out" / cfg.name / run_id(cfg)).symlink_to(outside)
    with pytest.raises(OutputPathError, match="symbolic link"):
        train_run(cfg, tmp_path / "out")
    assert not any(outside.iterdir())
