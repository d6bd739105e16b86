"""Vector files in and out, as gensim ``KeyedVectors``.

Reading: gensim's native ``.kv`` files are unpickled whole, so fastText vectors keep their subword
n-grams (out-of-vocabulary words get vectors); every other format (word2vec binary and text, GloVe,
fastText ``.vec``, gzip'd) goes through :func:`seqtag.vectors.pretrained.load_vectors` and its ``.npy`` cache.
A ``.kv`` file is a pickle: like any gensim model, load only files you trust.

Writing: the output name decides the format, because that is how every seqtag loader decides it:
``.kv`` is gensim native, ``.bin`` (``.bin.gz``) binary word2vec, anything else word2vec text (``.gz``
compressed). Files are written atomically.
"""
from __future__ import annotations

import pickle
import shutil
import tempfile
from pathlib import Path
from typing import Any

from seqtag.vectors.pretrained import load_vectors
from seqtag.errors import InputError
from seqtag.fileio import atomic_write
from seqtag.data.vocab import normalize_digits


def format_for(path: str | Path) -> str:
    """The format seqtag's loaders read ``path`` as, by its name."""
    name = Path(path).name.lower()
    if name.endswith(".kv"):
        return "kv"
    if name.endswith((".bin", ".bin.gz")):
        return "word2vec-binary"
    return "word2vec-text"


def check_output(path: Path, output_format: str | None) -> str:
    """The format to write ``path`` in: ``output_format`` if it agrees with the name, else an InputError."""
    implied = format_for(path)
    if output_format is not None and output_format != implied:
        wanted = {"kv": "end in .kv", "word2vec-binary": "end in .bin or .bin.gz",
                  "word2vec-text": "not end in .kv or .bin (use .txt, .vec)"}
        raise InputError(
            f"--format {output_format} files must {wanted[output_format]}: seqtag reads vector files by "
            f"their name, and would read this one as {implied}",
            path,
        )
    if path.is_dir():
        raise InputError("is a directory; give a file name for the vectors", path)
    if not path.parent.is_dir():
        # Checked before training, which would otherwise end in this error.
        raise InputError(f"cannot write the vectors: no such directory {str(path.parent)!r}", path)
    return implied


def save_vectors(kv: Any, path: str | Path) -> None:
    """Write gensim ``KeyedVectors`` (or ``FastTextKeyedVectors``) in the format ``path``'s name implies."""
    path = Path(path)
    fmt = format_for(path)
    if fmt == "kv":
        # A file handle makes gensim pickle everything into this one file (a file name would put large
        # arrays into separate .npy files beside it, which other loaders and atomic writes know nothing of).
        with atomic_write(path) as handle:
            kv.save(handle)
        return
    # gensim writes word2vec files only to a name (and compresses by its suffix): write one in a
    # temporary folder beside the target, then copy it into place atomically.
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        written = Path(tmp) / path.name
        kv.save_word2vec_format(str(written), binary=fmt == "word2vec-binary")
        with atomic_write(path) as handle, open(written, "rb") as source:
            shutil.copyfileobj(source, handle)


def load_keyed(path: str | Path, cache: bool = True) -> Any:
    """Read a vector file as gensim ``KeyedVectors`` (see the module docstring)."""
    from gensim.models import KeyedVectors

    path = Path(path)
    if format_for(path) != "kv":
        vectors = load_vectors(path, cache=cache)
        kv = KeyedVectors(vector_size=vectors.dim, count=0)
        kv.add_vectors(vectors.words, vectors.matrix)
        return kv
    if not path.is_file():
        raise InputError("no such file", path)
    try:
        loaded = KeyedVectors.load(str(path))
    except (pickle.UnpicklingError, ValueError, EOFError, OSError, AttributeError, ImportError, TypeError) as err:
        raise InputError(f"not a gensim .kv file ({err})", path) from None
    loaded = getattr(loaded, "wv", loaded)  # a whole Word2Vec / FastText model: its vectors
    if not isinstance(loaded, KeyedVectors):
        raise InputError(f"not a gensim .kv file (it holds a {type(loaded).__name__})", path)
    if len(loaded.index_to_key) == 0:
        raise InputError("no vectors found", path)
    return loaded


def keyed(vectors: Any, cache: bool = True) -> tuple[Any, str | None]:
    """(KeyedVectors, source name) for a path or an already loaded ``KeyedVectors``."""
    if isinstance(vectors, (str, Path)):
        return load_keyed(vectors, cache=cache), str(vectors)
    return vectors, None


def has_subwords(kv: Any) -> bool:
    """True for fastText vectors with n-gram buckets: every word, seen or not, gets a vector."""
    return getattr(kv, "bucket", 0) > 0


def find_key(kv: Any, word: str) -> str | None:
    """``word``'s key by the lookup chain taggers use (exact -> lowercase -> digits normalised)."""
    index = kv.key_to_index
    for key in (word, word.lower(), normalize_digits(word.lower())):
        if key in index:
            return key
    return None
