"""Pretrained word vectors: read with gensim, cached as .npy, cut down to what a model needs.

Formats: word2vec binary (``.bin``, ``.bin.gz``), word2vec / fastText text (``.vec``, ``.txt``, with a
``<count> <dim>`` header), GloVe text (no header; detected from the first line), gzip'd variants, and
gensim's native ``KeyedVectors.save`` files (``.kv``). The first load of a file converts it to
``<cache>/<key>.npy`` + ``<key>.words.json``; later loads memory-map the array (well under a second for
GloVe 6B). The cache lives in ``$SEQTAG_CACHE_DIR`` or ``~/.cache/seqtag``; pass ``cache=False`` (CLI:
``--no-embedding-cache``) to skip it.

A word that appears more than once in a file (common in real GloVe / fastText dumps) keeps its first
vector, as gensim does; the later lines are skipped without a word. ``Vectors.words`` are always
distinct strings, and a cache entry that is not (written by an older version) is rebuilt.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import zlib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from seqtag.errors import InputError
from seqtag.fileio import atomic_write
from seqtag.data.vocab import PAD, UNK, normalize_digits

_DEFLATE_RATIO = 1032  # the most bytes gzip can expand one compressed byte to


@dataclass
class Vectors:
    """Rows of ``matrix`` are the vectors of ``words`` (distinct), in file order (most frequent first)."""

    words: list[str]
    matrix: np.ndarray  # shape: (len(words), dim), float32
    source: str
    _index: dict[str, int] | None = field(default=None, repr=False)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    @property
    def index(self) -> dict[str, int]:
        if self._index is None:
            index = {w: i for i, w in enumerate(self.words)}
            if len(index) != len(self.words):  # a repeated word keeps its first row, as gensim does
                index = {}
                for i, w in enumerate(self.words):
                    index.setdefault(w, i)
            self._index = index
        return self._index

    def find(self, token: str) -> str | None:
        """The vector key for ``token`` by the chain exact -> lowercase -> digits normalised."""
        index = self.index
        for key in (token, token.lower(), normalize_digits(token.lower())):
            if key in index:
                return key
        return None


def default_cache_dir() -> Path:
    env = os.environ.get("SEQTAG_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "seqtag"


def _cache_key(path: Path) -> str:
    stat = path.stat()
    ident = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha1(ident.encode()).hexdigest()[:20]


def _header(path: Path, binary: bool) -> tuple[int, int] | None:
    """``(count, dim)`` from a word2vec header line; None when the first line is a vector (GloVe).

    gensim allocates count x dim floats before it reads a row, so a header promising more values than
    the file can hold (a damaged file, or one made to exhaust memory) is refused here.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            first = handle.readline().split()
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"cannot read vector file: {err}", path) from None
    if not first:
        raise InputError("empty vector file", path, 1)
    if not (len(first) == 2 and all(part.isdigit() for part in first)):
        return None
    count, dim = int(first[0]), int(first[1])
    room = path.stat().st_size * (_DEFLATE_RATIO if path.suffix == ".gz" else 1)
    if count * dim * (4 if binary else 2) > room:  # a binary value takes 4 bytes, a text one at least "0 "
        raise InputError(f"the header announces {count:,} vectors of {dim:,} values, more than the file holds", path, 1)
    return count, dim


def _text_problem(path: Path, header: tuple[int, int] | None) -> tuple[str, int] | None:
    """The first line of a text vector file that gensim cannot read, or that holds NaN / infinity, as
    ``(message, line)``; None if no line is to blame. Run only to explain a failure: it reads the file again."""
    opener = gzip.open if path.suffix == ".gz" else open
    dim = header[1] if header else None
    rows = lineno = 0
    try:
        with opener(path, "rb") as handle:
            for lineno, raw in enumerate(handle, 1):
                if header and lineno == 1:
                    continue
                if header and rows == header[0]:
                    break  # gensim reads no further than the header's count
                rows += 1
                try:
                    values = raw.decode("utf-8").rstrip().split(" ")[1:]  # split as gensim does
                except UnicodeDecodeError:
                    return "not valid utf-8 text; is this a binary word2vec file (name it .bin)?", lineno
                dim = len(values) if dim is None else dim
                if len(values) != dim:
                    return f"expected {dim} values after the word, got {len(values)}", lineno
                try:
                    numbers = np.array(values, dtype=np.float32)
                except ValueError:
                    return f"not a number: {next(v for v in values if not _is_number(v))!r}", lineno
                if not np.isfinite(numbers).all():
                    return "the vector holds NaN or infinite values", lineno
    except (OSError, EOFError, zlib.error) as err:
        return f"cannot read vector file: {err}", lineno + 1
    if header and rows < header[0]:
        return f"the header announces {header[0]:,} vectors, but the file ends after {rows:,}", lineno + 1
    return None


def _is_number(text: str) -> bool:
    try:
        np.float32(text)
    except ValueError:
        return False
    return True


def _read_with_gensim(path: Path) -> tuple[list[str], np.ndarray]:
    from gensim.models import KeyedVectors

    name = path.name.lower()
    text = not name.endswith((".kv", ".bin", ".bin.gz"))
    header = None
    try:
        if name.endswith(".kv"):
            kv = KeyedVectors.load(str(path))
        else:
            header = _header(path, binary=not text)
            kv = KeyedVectors.load_word2vec_format(str(path), binary=not text, no_header=text and header is None)
    except InputError:
        raise
    except (UnicodeDecodeError, ValueError, EOFError, OSError, KeyError, IndexError, zlib.error,
            pickle.UnpicklingError, AttributeError, ImportError, TypeError) as err:
        problem = _text_problem(path, header) if text else None
        if problem is not None:
            raise InputError(problem[0], path, problem[1]) from None
        if isinstance(err, UnicodeDecodeError):
            raise InputError("not valid utf-8 text; is this a binary word2vec file (name it .bin)?", path) from None
        raise InputError(f"not a readable vector file ({err})", path) from None
    if len(kv.key_to_index) == 0:
        raise InputError("no vectors found", path)
    if kv.vector_size == 0:
        # e.g. a plain word list: every line is one word and no numbers
        raise InputError("the vectors have no values (a word list, not a vector file?)", path)
    words, matrix = _unique_rows(kv)
    finite = np.isfinite(matrix).all(axis=1)
    if not finite.all():  # would turn the first training loss into NaN
        problem = _text_problem(path, header) if text else None
        word = words[int(np.argmin(finite))]
        raise InputError(f"the vector of {word!r} holds NaN or infinite values", path, problem[1] if problem else None)
    return words, matrix


def _unique_rows(kv) -> tuple[list[str], np.ndarray]:
    """The words gensim kept, in file order, and their rows.

    A word that appears twice in a word2vec / GloVe file keeps its first vector (gensim skips the later
    lines). gensim 4 sizes ``index_to_key`` and the matrix by the line count before reading, and does
    not shrink them again, so each skipped line leaves a ``None`` key with a zero row at the end: those
    are dropped here. ``key_to_index`` is the truth about which row belongs to which word.
    """
    keys, count = kv.index_to_key, len(kv.key_to_index)
    words = list(keys[:count])
    if None not in words and all(key is None for key in keys[count:]):  # gensim's layout: the holes at the end
        return words, np.asarray(kv.vectors[:count], dtype=np.float32)
    pairs = sorted(kv.key_to_index.items(), key=lambda pair: pair[1])
    rows = np.fromiter((row for _, row in pairs), dtype=np.int64, count=len(pairs))
    return [word for word, _ in pairs], np.asarray(kv.vectors[rows], dtype=np.float32)


def _word_index(words: list) -> dict[str, int] | None:
    """``{word: row}`` when ``words`` are distinct strings, else None (e.g. a cache entry written
    before duplicate words were dropped, which holds ``null``)."""
    if not isinstance(words, list):
        return None
    try:
        "\n".join(words)  # TypeError on anything that is not a str, in C
    except TypeError:
        return None
    index = {word: i for i, word in enumerate(words)}
    return index if len(index) == len(words) else None


def load_vectors(path: str | Path, cache: bool = True, cache_dir: Path | None = None) -> Vectors:
    """Read a vector file (see the module docstring for formats and caching)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("no such file", path)
    if not cache:
        words, matrix = _read_with_gensim(path)
        return Vectors(words, matrix, str(path))
    folder = cache_dir or default_cache_dir()
    key = _cache_key(path)
    array_file, words_file = folder / f"{key}.npy", folder / f"{key}.words.json"
    if array_file.exists() and words_file.exists():
        try:
            matrix = np.load(array_file, mmap_mode="r", allow_pickle=False)
            words = json.loads(words_file.read_text(encoding="utf-8"))
            index = _word_index(words)
            if index is not None and len(words) == matrix.shape[0]:
                return Vectors(words, matrix, str(path), index)
        except (OSError, ValueError):
            pass  # a damaged cache entry is rebuilt below
    words, matrix = _read_with_gensim(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with atomic_write(array_file) as handle:
            np.save(handle, matrix, allow_pickle=False)
        with atomic_write(words_file) as handle:
            handle.write(json.dumps(words, ensure_ascii=False).encode("utf-8"))
    except OSError:
        pass  # an unwritable cache only costs time
    return Vectors(words, matrix, str(path))


@dataclass
class EmbeddingTable:
    """The rows a model keeps: training words first, then the most frequent pretrained words."""

    words: list[str]  # starts with PAD, UNK
    matrix: np.ndarray  # shape: (len(words), dim), float32
    trainable: int  # rows [0, trainable) are the training vocabulary; later rows are pretrained-only
    coverage: dict[str, float]  # share of training tokens / types that found a pretrained vector


def build_embedding_table(
    counts: Counter[str], vectors: Vectors | None, dim: int, keep_vectors: int, seed: int, unknown: str = "random"
) -> EmbeddingTable:
    """Word rows for a model: pretrained where the lookup chain finds a vector, random otherwise.

    ``counts`` are training-token counts. ``keep_vectors`` extra rows of the most frequent pretrained
    words are kept so words first seen at prediction time still get their vectors. ``unknown``: the
    unknown word's row starts "random" like the others, or at "zero".
    """
    rng = np.random.default_rng(seed)
    words = [PAD, UNK]
    rows: list[np.ndarray | None] = [None, None]
    seen = {PAD: 0, UNK: 1}
    found_tokens = found_types = 0
    if vectors is not None:
        dim = vectors.dim
    for token, count in counts.most_common():
        key = vectors.find(token) if vectors is not None else None
        if key is not None:
            found_tokens += count
            found_types += 1
        name = key if key is not None else token
        if name not in seen:
            seen[name] = len(words)
            words.append(name)
            rows.append(vectors.matrix[vectors.index[key]] if key is not None else None)
    trainable = len(words)
    if vectors is not None:
        for i, word in enumerate(vectors.words[:keep_vectors]):
            if word not in seen:
                seen[word] = len(words)
                words.append(word)
                rows.append(vectors.matrix[i])
    scale = float(np.std(vectors.matrix[: min(len(vectors.words), 10_000)])) if vectors else 1.0
    matrix = rng.normal(0.0, scale, size=(len(words), dim)).astype(np.float32)
    matrix[0] = 0.0
    if unknown == "zero":
        matrix[1] = 0.0
    for i, row in enumerate(rows):
        if row is not None:
            matrix[i] = row
    total_tokens = sum(counts.values()) or 1
    coverage = {
        "tokens": found_tokens / total_tokens,
        "types": found_types / (len(counts) or 1),
    }
    return EmbeddingTable(words, matrix, trainable, coverage)
