"""Document context for taggers: each sentence read together with the neighbouring sentences of its document.

An entity named in full in one sentence ("Michael Jordan") is often shortened or written in capitals in
another ("JORDAN"); a tagger that reads only the sentence cannot see that. When a file marks documents
(``-DOCSTART-`` lines in CoNLL columns, ``# newdoc`` in CoNLL-U, one line of raw text), the recurrent encoder
reads up to ``size`` tokens of the sentences before and after a sentence in the same document; only the
sentence's own tokens are tagged (see :class:`seqtag.data.batching.Collator` and
:class:`seqtag.models.encoders.TokenEncoder`).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class InContext:
    """A sentence's tokens with the tokens before (``left``) and after it (``right``) in its document.

    It reads as its own token list (length, iteration, indexing), so everything that takes token lists
    takes it; the collator alone looks at the context."""

    tokens: list[str]
    left: list[str]
    right: list[str]

    def __len__(self) -> int:
        return len(self.tokens)

    def __iter__(self) -> Iterator[str]:
        return iter(self.tokens)

    def __getitem__(self, index: Any) -> Any:
        return self.tokens[index]

    def plain(self) -> list[list[str]]:
        """JSON-able: ``[left, tokens, right]`` (what a checkpoint's data fingerprint hashes)."""
        return [self.left, self.tokens, self.right]


def as_plain(item: Any) -> Any:
    """A network input as JSON-able data: token lists unchanged, :class:`InContext` as :meth:`InContext.plain`."""
    return item.plain() if isinstance(item, InContext) else item


def model_input(item: Any) -> Any:
    """What a tagger reads for a record with ``.tokens``: the tokens, or :class:`InContext` when
    :func:`with_context` gave it a context."""
    context = getattr(item, "context", None)
    return item.tokens if context is None else InContext(item.tokens, *context)


def has_documents(records: Iterable[Any]) -> bool:
    """Whether any record says which document it belongs to (``.document`` set)."""
    return any(getattr(record, "document", None) is not None for record in records)


def with_context(records: Iterable[Any], size: int) -> Iterator[Any]:
    """The records (with ``.tokens`` and ``.document``), in order, each given ``.context = (left, right)``:
    the last ``size`` tokens of the sentences before it and the first ``size`` of those after it, within its
    document. Records without a document (``document`` None) get no context. Streams: it looks ahead only
    until ``size`` tokens follow a record or its document ends."""
    if size <= 0:
        yield from records
        return
    history: deque[str] = deque(maxlen=size)  # the current document's last tokens
    waiting: deque[Any] = deque()  # records whose right context is not complete yet, oldest first
    document = None
    for record in records:
        current = getattr(record, "document", None)
        if current is None or current != document:
            yield from _flush(waiting)
            history.clear()
            document = current
        if current is None:
            yield record
            continue
        for earlier in waiting:
            need = size - len(earlier.context[1])
            if need > 0:
                earlier.context[1].extend(record.tokens[:need])
        while waiting and len(waiting[0].context[1]) >= size:
            yield waiting.popleft()
        record.context = (list(history), [])
        history.extend(record.tokens)
        waiting.append(record)
    yield from _flush(waiting)


def _flush(waiting: deque[Any]) -> Iterator[Any]:
    while waiting:
        yield waiting.popleft()


def contexts_of(token_lists: Sequence[Sequence[str]], size: int) -> list[Any]:
    """The sentences of ONE document (token lists, in order) as network inputs: :class:`InContext` items with
    ``size`` tokens of context on each side, or the token lists themselves when ``size`` is 0."""
    if size <= 0:
        return list(token_lists)
    flat = [t for tokens in token_lists for t in tokens]
    out, start = [], 0
    for tokens in token_lists:
        end = start + len(tokens)
        out.append(InContext(list(tokens), flat[max(0, start - size) : start], flat[end : end + size]))
        start = end
    return out
