"""What the Python API returns: a tagged :class:`Doc` with its entity :class:`Span` s, or a
:class:`Classification`. Plain frozen dataclasses; ``to_dict()`` gives the JSON the command line and the
HTTP server write."""
from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Span:
    """An entity (or chunk): ``text == doc.text[start_char:end_char]`` and the tokens
    ``doc.tokens[token_start:token_end]``."""

    text: str
    label: str
    start_char: int
    end_char: int  # exclusive
    token_start: int
    token_end: int  # exclusive
    probability: float | None = None  # p(exactly this entity) under the model, when asked for

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class Doc:
    """A tagged text: its tokens (with character offsets into ``text``), one tag per token in the training
    data's scheme, and the entities those tags make. Tokens of every sentence of the text, in order."""

    text: str
    tokens: list[str]
    offsets: list[tuple[int, int]]  # (start, end) of each token in ``text``
    tags: list[str]
    spans: list[Span]
    sentences: list[tuple[int, int]]  # token ranges [start, end) of the sentences the text was split into
    tag_probs: list[float] | None = None  # per token, when asked for: p(its predicted entity type or tag)

    def __len__(self) -> int:
        return len(self.tokens)

    def to_dict(self) -> dict:
        record = {"text": self.text, "tokens": self.tokens, "tags": self.tags,
                  "spans": [span.to_dict() for span in self.spans]}
        if self.tag_probs is not None:
            record["tag_probs"] = self.tag_probs
        return record


@dataclass(frozen=True)
class Classification:
    """A classified text: the most probable label and every class's probability, most probable first."""

    text: str
    label: str
    probability: float
    probabilities: dict[str, float]

    def to_dict(self) -> dict:
        return asdict(self)
