"""Bounded inputs (issue 28): a corpus is a regular file or a folder of them, within a size cap, refused up front
(``train --corpus /dev/zero``, a spec's ``corpus = "/dev/zero"``, ``sweep --dry-run``); option values that would
build huge arrays (``simulate --points``, ``predict --steps``, ``plan --compare-schedules --steps``) are checked
against the one work budget before any work. Each is one line on stderr, exit 1, nothing written."""

from __future__ import annotations

import json
import os

import pytest

from scalefit.proxy import data
from scalefit.proxy.data import corpus_problem
from tests.safety import refused

TINY = {"seq_len": 32, "batch_size": 4, "n_heads": 2, "cloze_items": 0, "eval_tokens": 256, "n_evals": 2,
        "tokens": 512, "device": "cpu", "width": 16, "depth": 1}


@pytest.fixture
def never_read(monkeypatch):
    """A regression must fail here, not read /dev/zero until the machine runs out of memory."""
    def boom(*_a, **_k):
        raise AssertionError("the corpus was read before it was checked")

    monkeypatch.setattr(data, "_documents", boom)
    monkeypatch.setattr(data, "_bin_corpus", boom)
    data.load_corpus.cache_clear()


@pytest.fixture
def specials(tmp_path):
    os.mkfifo(tmp_path / "fifo.txt")
    (tmp_path / "zero.txt").symlink_to("/dev/zero")
    (tmp_path / "zero.bin").symlink_to("/dev/zero")
    (tmp_path / "withfifo").mkdir()
    (tmp_path / "withfifo" / "a.txt").write_text("hello\nworld\n")
    os.mkfifo(tmp_path / "withfifo" / "b.txt")
    return tmp_path


CORPORA = [("/dev/zero", "is a character device"), ("/dev/urandom", "is a character device"),
           ("fifo.txt", "is a FIFO"), ("zero.txt", "is a character device"), ("zero.bin", "is a character device"),
           ("withfifo", "a FIFO")]


@pytest.mark.parametrize("corpus,found", CORPORA)
def test_train_refuses_a_special_corpus_before_reading_it(specials, never_read, corpus, found):
    line = refused(["train", "--corpus", corpus, "--out", "runs", "--set", "width=16", "--set", "depth=1"],
                   specials, contains=found)
    assert f"corpus {corpus!r}" in line and "a corpus is" in line


def _spec(folder, corpus: str) -> str:
    body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in {**TINY, "corpus": corpus}.items())
    (folder / "s.toml").write_text(f'name = "s"\n[fixed]\n{body}\n[[grid]]\nlr = [1e-3, 2e-3]\n')
    return "s.toml"


@pytest.mark.parametrize("dry", [True, False])
@pytest.mark.parametrize("corpus", ["/dev/zero", "zero.txt", "withfifo"])
def test_a_sweep_spec_with_a_special_corpus_is_refused_up_front(specials, never_read, dry, corpus):
    spec = _spec(specials, corpus)
    args = ["sweep", spec, "--out", "out", "--workers", "0", *(["--dry-run"] if dry else [])]
    refused(args, specials, contains=f"s.toml: corpus {corpus!r}")
    assert not (specials / "out").exists()


def test_an_oversized_text_corpus_is_refused_with_the_way_out(tmp_path, monkeypatch, never_read):
    monkeypatch.setattr(data, "MAX_TEXT_BYTES", 1000)
    (tmp_path / "big.txt").write_text("x" * 1001)
    (tmp_path / "folder").mkdir()
    for i in range(3):
        (tmp_path / "folder" / f"{i}.txt").write_text("y" * 400)
    line = refused(["train", "--corpus", "big.txt", "--out", "runs"], tmp_path, contains="more than the 0.00 GiB")
    assert "pre-tokenize it into a .bin" in line
    refused(["train", "--corpus", "folder", "--out", "runs"], tmp_path, contains="train.bin and val.bin")


def test_usable_corpora_pass_the_check(tmp_path):
    (tmp_path / "a.txt").write_text("hello\nworld\n")
    (tmp_path / "ids.bin").write_bytes(b"\x01\x00" * 10)
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.txt").write_text("x")
    (tmp_path / "link.txt").symlink_to("a.txt")
    for spec in ("kjv", "pydoc", "a.txt", "ids.bin", "folder", "link.txt", "not-here-yet.txt"):
        assert corpus_problem(str(tmp_path / spec) if spec not in ("kjv", "pydoc") else spec) is None, spec
