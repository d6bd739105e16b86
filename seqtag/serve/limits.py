"""What a server accepts and how it batches: one frozen dataclass, filled from `seqtag serve`'s options."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    """Bounds on one request, and the dynamic-batching settings. Each field is a `seqtag serve` option
    (``max_body`` is ``--max-body``, and so on); the defaults are the options' defaults."""

    max_body: int = 1 << 20  # bytes of one request body (413 above)
    max_texts: int = 256  # texts, token lists or tasks in one request (413 above)
    max_chars: int = 20_000  # characters of one text, or of one token list joined by spaces (413 above)
    max_nbest: int = 20  # the largest ``nbest`` (422 above)
    read_timeout: float = 30.0  # seconds to receive a request body (408 after)
    max_batch: int = 32  # sentences or texts in one forward pass
    max_wait_ms: float = 2.0  # how long a pass may wait for more requests after its first one or the last pass
    threads: int | None = None  # torch threads of the batching thread (None: torch's setting)

    def describe(self) -> dict:
        """The limits as /healthz shows them."""
        return {
            "max_body": self.max_body, "max_texts": self.max_texts, "max_chars": self.max_chars,
            "max_nbest": self.max_nbest, "read_timeout": self.read_timeout, "max_batch": self.max_batch,
            "max_wait_ms": self.max_wait_ms, "threads": self.threads,
        }
