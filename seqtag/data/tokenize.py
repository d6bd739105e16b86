"""The one tokenizer entry point: syntok splits text into sentences of tokens, with character offsets.

``text[start:end]`` is always the token as it appears in the text (syntok may normalise a token; then the
source slice is kept). Every reader of raw text, the Python API and the server tokenize through here, so
training and prediction see identical tokens.
"""
from __future__ import annotations

from syntok import segmenter


def sentence_spans(text: str) -> list[list[tuple[int, int]]]:
    """Split one line into sentences of (start, end) token spans, using syntok's offset-preserving mode."""
    sentences = [list(sentence) for paragraph in segmenter.analyze(text) for sentence in paragraph]
    starts = [token.offset for sentence in sentences for token in sentence] + [len(text)]
    result = []
    i = 0
    for sentence in sentences:
        spans = []
        for token in sentence:
            start, end = token.offset, token.offset + len(token.value)
            if text[start:end] != token.value:
                # syntok may normalise a token, changing its length: take the source text up to the next
                # token or the first whitespace instead, so text[start:end] is still the token.
                piece = text[start:starts[i + 1]]
                end = start + next((k for k, ch in enumerate(piece) if ch.isspace()), len(piece))
            if end > start:
                spans.append((start, end))
            i += 1
        result.append(spans)
    return result


def tokenize(text: str) -> list[str]:
    """All tokens of ``text``, sentence breaks ignored (classifiers read a text as one sequence)."""
    return [text[start:end] for sentence in sentence_spans(text) for start, end in sentence]
