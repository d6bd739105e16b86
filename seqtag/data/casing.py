"""The casing class of a token: what a lower-cased word vector (GloVe) cannot say about it."""
from __future__ import annotations

# 0 is padding; the classes of Reimers & Gurevych (2017), who found them worth having beside lower-cased vectors
CASES = ("<pad>", "numeric", "mainly numeric", "lower", "UPPER", "Initial", "has digit", "other")
NUM_CASES = len(CASES)


def casing(token: str) -> int:
    """The index in :data:`CASES` of ``token``'s casing class."""
    digits = sum(c.isdigit() for c in token)
    if token.isdigit():
        return 1
    if digits / max(len(token), 1) > 0.5:
        return 2
    if token.islower():
        return 3
    if token.isupper():
        return 4
    if token[:1].isupper():
        return 5
    if digits:
        return 6
    return 7
