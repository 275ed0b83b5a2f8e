"""BPE tokenizers and token ids are cached by hash; a tokenizer.json may be given by path."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from scalefit.errors import ConfigError
from scalefit.proxy import data
from scalefit.proxy.config import make_config


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SCALEFIT_CACHE", str(tmp_path / "cache"))
    data.load_corpus.cache_clear()
    yield tmp_path / "cache"
    data.load_corpus.cache_clear()


def _corpus(tmp_path, text="the quick brown fox jumps over the lazy dog\n" * 400):
    path = tmp_path / "corpus.txt"
    path.write_text(text)
    return str(path)


def test_second_load_reads_the_cache_not_a_new_training(cache, tmp_path, monkeypatch):
    corpus = _corpus(tmp_path)
    first = data.load_corpus(corpus, "bpe", 300)
    entries = list((cache / "tokenized").iterdir())
    assert len(entries) == 1 and {p.name for p in entries[0].iterdir()} == {"train.npy", "val.npy", "tokenizer.json"}
    data.load_corpus.cache_clear()

    def no_training(*args, **kwargs):
        raise AssertionError("the tokenizer was trained again")

    monkeypatch.setattr(data, "_bpe_tokenizer", no_training)
    start = time.perf_counter()
    second = data.load_corpus(corpus, "bpe", 300)
    assert time.perf_counter() - start < 1.0
    assert np.array_equal(first.train, second.train) and np.array_equal(first.val, second.val)
    assert second.val_bytes == first.val_bytes


def test_other_text_or_vocab_is_another_entry_and_a_damaged_entry_is_rebuilt(cache, tmp_path):
    corpus = _corpus(tmp_path)
    first = data.load_corpus(corpus, "bpe", 300)
    (entry,) = (cache / "tokenized").iterdir()
    data.load_corpus(corpus, "bpe", 320)
    (tmp_path / "other").mkdir()
    data.load_corpus(_corpus(tmp_path / "other", "other text entirely\n" * 300), "bpe", 300)
    assert len(list((cache / "tokenized").iterdir())) == 3
    (entry / "train.npy").write_bytes(b"not an array")
    data.load_corpus.cache_clear()
    again = data.load_corpus(corpus, "bpe", 300)
    assert np.array_equal(again.train, first.train)
    assert np.array_equal(np.load(entry / "train.npy"), first.train)  # the entry was written anew


def test_unwritable_cache_warns_and_still_tokenizes(tmp_path, monkeypatch):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setenv("SCALEFIT_CACHE", str(blocker))  # a file where the cache folder should be
    data.load_corpus.cache_clear()
    with pytest.warns(Warning, match="tokenizer cache not written"):
        corpus = data.load_corpus(_corpus(tmp_path), "bpe", 300)
    assert len(corpus.train) > 0
    data.load_corpus.cache_clear()


def test_tokenizer_json_by_path(cache, tmp_path):
    corpus = _corpus(tmp_path)
    bpe = data.load_corpus(corpus, "bpe", 300)
    saved = next((cache / "tokenized").iterdir()) / "tokenizer.json"
    given = data.load_corpus(corpus, str(saved), 300)
    assert np.array_equal(given.train, bpe.train)
    with pytest.raises(ConfigError, match="more than vocab_size"):
        data.load_corpus(corpus, str(saved), 260)
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    with pytest.raises(ConfigError, match="not a Hugging Face tokenizer.json"):
        data.load_corpus(corpus, str(bad), 300)
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="not a regular file"):
        data.load_corpus(corpus, str(fifo), 300)
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        make_config(sets=["tokenizer=wordpiece"])
    assert make_config(sets=[f"tokenizer={saved}", "vocab_size=300"]).tokenizer == str(saved)


def test_data_budget_warnings_name_tokens_per_param_and_epochs():
    corpus = data.load_corpus("pydoc")
    n = len(corpus.train)
    assert data.data_budget_warnings(corpus, n_tokens=n, n_params=n // 20) == []
    (low,) = data.data_budget_warnings(corpus, n_tokens=n // 2, n_params=n)
    assert "0.5 tokens per parameter" in low
    (epochs,) = data.data_budget_warnings(corpus, n_tokens=5 * n, n_params=n // 20)
    assert "5.0 times" in epochs and "'pydoc'" in epochs


def test_a_short_run_warns_about_its_data_budget(tmp_path):
    from scalefit.proxy.train import train_run
    from tests.proxy.conftest import tiny

    with pytest.warns(Warning, match="tokens per parameter"):
        train_run(tiny(cloze_items=0, n_evals=2, n_tokens=8 * 32 * 4), tmp_path)


def test_code_folders_record_shards_and_the_stdlib_corpus(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    folder = tmp_path / "repo"
    (folder / "src").mkdir(parents=True)
    for i in range(12):
        (folder / "src" / f"m{i}.py").write_text(f"def f{i}(x):\n    return x * {i}\n")
    (folder / "notes.md").write_text("# notes\n" * 5)
    (folder / "shard.jsonl").write_text('{"text": "record one"}\n{"text": "record two"}\n')
    pq.write_table(pa.table({"text": ["parquet one", "parquet two", ""]}), folder / "shard.parquet")
    (folder / "image.png").write_bytes(b"\x89PNG not text")
    train, val = data._documents(str(folder))
    docs = train + val
    assert len(docs) == 12 + 1 + 2 + 2 and "def f3(x):\n    return x * 3\n" in docs and "parquet two" in docs
    assert not any("PNG" in d for d in docs)
    single = data._documents(str(folder / "shard.parquet"))
    assert sorted(single[0] + single[1]) == ["parquet one", "parquet two"]
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "no_text.parquet")
    with pytest.raises(ConfigError, match="needs a 'text' column"):
        data._documents(str(tmp_path / "no_text.parquet"))
    (tmp_path / "fake.parquet").write_text("not parquet")
    with pytest.raises(ConfigError, match="not a readable Parquet file"):
        data._documents(str(tmp_path / "fake.parquet"))
    train, val = data._stdlib_documents()
    assert len(train) > 500 and 0 < len(val) < len(train) / 10
    assert sum(len(d) for d in train + val) > 5_000_000  # a code domain of millions of bytes, always installed


def test_a_mixed_corpus_reports_each_domains_validation_loss(tmp_path):
    import pandas as pd

    from scalefit.proxy.train import train_run
    from tests.proxy.conftest import tiny

    code = tmp_path / "code"
    code.mkdir()
    for i in range(40):
        (code / f"m{i}.py").write_text(f"def f{i}(x):\n    return [x * {i} for _ in range(3)]\n" * 20)
    spec = f"pydoc+{code}"
    corpus = data.load_corpus(spec)
    assert [name for name, _ in corpus.domains] == ["pydoc", "code"]
    assert len(corpus.val) == sum(len(ids) for _, ids in corpus.domains)
    with pytest.warns(Warning):  # a tiny run is short of data
        result = train_run(tiny(corpus=spec, cloze_items=0, n_evals=2), tmp_path / "out")
    curve = pd.read_csv(tmp_path / "out" / result["name"] / result["run_id"] / "curve.csv")
    assert {"loss_pydoc", "loss_code"} <= set(curve.columns)
    last = curve.iloc[-1]
    assert np.isfinite([last["loss_pydoc"], last["loss_code"]]).all() and last["loss_code"] != last["loss_pydoc"]
    for bad, message in (("pydoc+pydoc", "distinct corpora"), ("pydoc+/dev/zero", "/dev/zero"),
                         (f"pydoc+{tmp_path / 'missing.txt'}", "not found")):
        with pytest.raises(ConfigError, match=message):
            data.load_corpus(bad)
