"""Corpora (KJV by book, pydoc by topic, files, folders, JSONL, .bin) and batches."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scalefit.errors import ConfigError
from scalefit.proxy.data import (
    KJV_VALIDATION_BOOKS,
    bits_per_byte,
    check_fits,
    eval_windows,
    load_corpus,
    sample_batch,
    unigram_entropy,
)


def text_of(ids: np.ndarray) -> str:
    return np.asarray(ids, dtype=np.uint8).tobytes().decode("utf-8", errors="replace")


def test_kjv_is_split_by_whole_book():
    corpus = load_corpus("kjv")
    train, val = text_of(corpus.train), text_of(corpus.val)
    assert corpus.vocab_size == 256 and corpus.tokens_per_byte == 1.0
    assert 0.03 < len(corpus.val) / (len(corpus.train) + len(corpus.val)) < 0.07
    assert "In the beginning God created the heaven and the earth." in train  # Genesis 1:1
    assert "The beginning of the gospel of Jesus Christ, the Son of God;" in val  # Mark 1:1
    assert "The beginning of the gospel of Jesus Christ" not in train
    assert "Vanity of vanities" in val and "Ecclesiastes" in KJV_VALIDATION_BOOKS
    assert load_corpus("kjv") is corpus  # cached, fixed validation set


def test_unigram_entropy_and_bits_per_byte():
    corpus = load_corpus("pydoc")
    h = unigram_entropy(corpus.train, 256)
    assert 2.5 < h < 4.0  # English-ish bytes: ~4-5 bits
    assert unigram_entropy(np.zeros(10, dtype=np.uint16), 256) == 0.0
    assert bits_per_byte(np.log(2), corpus) == pytest.approx(1.0)


def test_text_folder_jsonl_and_bin_corpora(tmp_path):
    (tmp_path / "one.txt").write_text("\n".join(f"line {i} of the only file" for i in range(100)))
    single = load_corpus(str(tmp_path / "one.txt"))
    assert text_of(single.val).startswith("line 95")  # the last 5% of lines

    folder = tmp_path / "books"
    folder.mkdir()
    for i in range(20):
        (folder / f"b{i:02d}.txt").write_text(f"book {i} " * 50)
    corpus = load_corpus(str(folder))
    assert text_of(corpus.val) == "book 10 " * 50  # one whole book out of 20

    jsonl = tmp_path / "docs.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": f"doc {i} " * 20}) for i in range(40)))
    corpus = load_corpus(str(jsonl))
    assert text_of(corpus.val) == "doc 10 " * 20 + "\n\n" + "doc 30 " * 20  # 2 whole records of 40
    assert "doc 10 " not in text_of(corpus.train)

    ids = (np.arange(100_000) % 70_000).astype(np.uint32)
    ids.tofile(tmp_path / "big.bin")
    corpus = load_corpus(str(tmp_path / "big.bin"), "byte", 70_000)
    assert corpus.val_bytes is None and len(corpus.val) == 5000 and int(corpus.train[-1]) == 95_000 % 70_000 - 1

    nano = tmp_path / "nano"
    nano.mkdir()
    np.arange(1000, dtype=np.uint16).tofile(nano / "train.bin")
    np.arange(200, dtype=np.uint16).tofile(nano / "val.bin")
    corpus = load_corpus(str(nano), "byte", 1000)
    assert len(corpus.train) == 1000 and len(corpus.val) == 200
    with pytest.raises(ConfigError, match="vocab_size"):
        load_corpus(str(nano), "byte", 500)


def test_bad_corpora(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_corpus(str(tmp_path / "missing.txt"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "a"}\n{"body": "b"}\n')
    with pytest.raises(ConfigError, match=r"bad.jsonl:2: expected a JSON object with a 'text' field"):
        load_corpus(str(bad))
    short = tmp_path / "short.txt"
    short.write_text("ab\ncd\n")
    with pytest.raises(ConfigError, match="fewer than seq_len"):
        check_fits(load_corpus(str(short)), 64)


def test_batches_are_seeded_and_windows_fixed():
    corpus = load_corpus("pydoc")
    a = sample_batch(corpus.train, 4, 16, np.random.default_rng(3))
    b = sample_batch(corpus.train, 4, 16, np.random.default_rng(3))
    assert a.shape == (4, 17) and a.dtype == np.int64 and (a == b).all()
    assert not (a == sample_batch(corpus.train, 4, 16, np.random.default_rng(4))).all()
    w = eval_windows(corpus.val, 16, 1024)
    assert w.shape == (64, 17) and (w == eval_windows(corpus.val, 16, 1024)).all()
    assert w[0, 0] == corpus.val[0] and w[-1, -1] == corpus.val[-1]  # spread over the whole split


def test_bpe_tokenizer_trained_offline():
    pytest.importorskip("tokenizers")
    corpus = load_corpus("pydoc", "bpe", 512)
    assert int(corpus.train.max()) < 512
    assert 0.2 < corpus.tokens_per_byte < 0.8  # merges compress the text
