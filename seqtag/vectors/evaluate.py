"""Intrinsic evaluation with gensim: Spearman correlation with human word-similarity judgements
(WordSim-353, SimLex-999, …) through ``evaluate_word_pairs`` and analogy accuracy (the Google set)
through ``evaluate_word_analogies`` (3CosAdd).

gensim reads only ``word1<TAB>word2<TAB>score`` pair files and silently skips every other line, so pair
files are checked and normalised here first: ``#`` comments, a header row, tab / comma / space
separators and extra columns (the original SimLex-999.txt keeps its score in the ``SimLex999`` column)
are all accepted, and a malformed line is an error instead of a silently dropped pair.
"""
from __future__ import annotations

import math
import tempfile
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from seqtag.errors import InputError
from seqtag.vectors.store import keyed

# Header names of the score column in the usual distributions; otherwise the third column is the score.
SCORE_COLUMNS = ("simlex999", "human (mean)", "score", "similarity", "sim", "relatedness", "mean")


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(1-based line number, stripped line) of a UTF-8 text file, with file errors as InputErrors."""
    try:
        with open(path, encoding="utf-8") as handle:
            lineno = 0
            for lineno, line in enumerate(handle, 1):
                yield lineno, line.strip()
    except FileNotFoundError:
        raise InputError("no such file", path) from None
    except UnicodeDecodeError:
        raise InputError("not valid utf-8 text", path, lineno + 1) from None
    except OSError as err:
        raise InputError(f"cannot read file: {err.strerror}", path) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_pairs(path: str | Path) -> list[tuple[str, str, float]]:
    """The (word, word, score) rows of a word-similarity file (see the module docstring for layouts)."""
    path = Path(path)
    pairs: list[tuple[str, str, float]] = []
    score_col: int | None = None
    for lineno, line in _lines(path):
        if not line or line.startswith("#"):
            continue
        fields = [f.strip() for f in (line.split("\t") if "\t" in line else line.split(",") if "," in line else line.split())]
        if score_col is None:
            names = [f.lower() for f in fields]
            if len(fields) >= 3 and _is_number(fields[2]):
                score_col = 2
            else:  # a header row: it names the score column
                score_col = next((names.index(n) for n in SCORE_COLUMNS if n in names), 2)
                if len(fields) <= score_col:
                    raise InputError(f"expected word1, word2 and a score, got {len(fields)} fields", path, lineno)
                continue
        if len(fields) <= score_col or not fields[0] or not fields[1]:
            raise InputError(f"expected word1, word2 and a score, got {len(fields)} fields", path, lineno)
        if not _is_number(fields[score_col]):
            raise InputError(f"the score {fields[score_col]!r} is not a number", path, lineno)
        pairs.append((fields[0], fields[1], float(fields[score_col])))
    if not pairs:
        raise InputError("no word pairs found", path)
    return pairs


def count_questions(path: str | Path) -> int:
    """The number of analogy questions in a file in the Google format (``: section`` lines, then
    ``a b c d`` lines), checked line by line (gensim would skip malformed lines)."""
    path = Path(path)
    questions = 0
    section = False
    for lineno, line in _lines(path):
        if not line:
            continue
        if line.startswith(":"):
            section = True
            continue
        words = line.split()
        if len(words) != 4:
            raise InputError(f"expected an analogy 'a b c d' or a ': section' line, got {len(words)} words", path, lineno)
        if not section:
            raise InputError("an analogy before the first ': section' line", path, lineno)
        questions += 1
    if not questions:
        raise InputError("no analogy questions found", path)
    return questions


def _number(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 6)


def word_pairs(kv: Any, pairs: list[tuple[str, str, float]], restrict_vocab: int = 300_000) -> dict:
    """Spearman and Pearson correlation of cosine similarities with the human scores, on the pairs whose
    words are among the first ``restrict_vocab`` words (case-insensitive, as gensim does); OOV pairs are
    left out and counted in ``oov_ratio``."""
    with tempfile.NamedTemporaryFile("w", encoding="utf-8", suffix=".tsv") as tsv:
        tsv.writelines(f"{a}\t{b}\t{score}\n" for a, b, score in pairs)
        tsv.flush()
        with warnings.catch_warnings():  # scipy warns about constant input; the result says nan then
            warnings.simplefilter("ignore")
            try:
                pearson, spearman, oov_percent = kv.evaluate_word_pairs(
                    tsv.name, delimiter="\t", restrict_vocab=restrict_vocab
                )
            except ValueError:  # gensim: every pair has an unknown word
                pearson = spearman = (math.nan, math.nan)
                oov_percent = 100.0
    return {
        "pairs": len(pairs),
        "evaluated": round(len(pairs) * (1 - oov_percent / 100)),
        "oov_ratio": oov_percent / 100,
        "spearman": _number(spearman[0]),
        "pearson": _number(pearson[0]),
    }


def analogies(kv: Any, path: str | Path, questions: int, restrict_vocab: int = 300_000) -> dict:
    """Accuracy on the ``questions`` ``a : b :: c : d`` questions of a checked file (see
    :func:`count_questions`): is d the nearest word to b - a + c among the first ``restrict_vocab`` words?
    ``accuracy`` counts the questions whose four words are known (gensim's figure); ``accuracy_all``
    counts OOV questions as wrong, which is fair between vectors of different vocabularies."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, sections = kv.evaluate_word_analogies(str(path), restrict_vocab=restrict_vocab)
    *parts, total = sections
    correct, evaluated = len(total["correct"]), len(total["correct"]) + len(total["incorrect"])
    return {
        "questions": questions,
        "evaluated": evaluated,
        "oov_ratio": 1 - evaluated / questions,
        "accuracy": correct / evaluated if evaluated else None,
        "accuracy_all": correct / questions,
        "sections": [
            {"section": s["section"], "correct": len(s["correct"]), "evaluated": len(s["correct"]) + len(s["incorrect"])}
            for s in parts
        ],
    }


def evaluate_vectors(
    vectors: Any,
    pairs: Mapping[str, str | Path] | None = None,
    analogy_file: str | Path | None = None,
    restrict_vocab: int = 300_000,
    cache: bool = True,
) -> dict:
    """Evaluate a vector file (or loaded ``KeyedVectors``) on word-similarity files ``pairs`` (name ->
    file) and an analogy file; each is optional, but at least one must be given. Every file is checked
    before the vectors are loaded, so a bad file fails at once."""
    if not pairs and analogy_file is None:
        raise InputError("nothing to evaluate: give a word-similarity file or an analogy file")
    rows = {name: (str(path), read_pairs(path)) for name, path in (pairs or {}).items()}
    questions = count_questions(analogy_file) if analogy_file is not None else 0
    kv, source = keyed(vectors, cache)
    report: dict[str, Any] = {
        "vectors": source,
        "words": len(kv.index_to_key),
        "dim": int(kv.vector_size),
        "restrict_vocab": restrict_vocab,
        "similarity": {
            name: {"file": file, **word_pairs(kv, found, restrict_vocab)} for name, (file, found) in rows.items()
        },
    }
    if analogy_file is not None:
        report["analogies"] = {"file": str(analogy_file), **analogies(kv, analogy_file, questions, restrict_vocab)}
    return report
