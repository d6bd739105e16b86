"""Tag schemes as pure functions over plain lists of tag strings.

Schemes: ``iob1`` (I- starts a chunk; B- only splits adjacent chunks of one type), ``iob2`` (B- starts
every chunk), ``bioes`` (B-/I-/E- for multi-token chunks, S- for single tokens; the BILOU letters L-/U-
are read as E-/S-) and ``plain`` (tags without prefixes, e.g. POS). ``O`` is outside any chunk.

Reading is lenient, like seqeval: a sequence that breaks its scheme still has well-defined chunks
(an I-X after O starts a chunk), so :func:`spans` and :func:`convert` accept any input.
:func:`allowed_transitions` follows AllenNLP's convention and semantics for constrained CRF decoding.
"""
from __future__ import annotations

from collections.abc import Iterable

SCHEMES = ("iob1", "iob2", "bioes", "plain")

_ALIASES = {"bio": "iob2", "bilou": "bioes", "bioul": "bioes", "iobes": "bioes"}
_CHUNK_PREFIXES = {"iob1": "BI", "iob2": "BI", "bioes": "BIES"}
_BILOU = {"L": "E", "U": "S"}


def normalize_scheme(name: str) -> str:
    """The canonical name of a scheme or one of its aliases (``bio``, ``bilou``, ``bioul``, ``iobes``)."""
    key = name.lower()
    key = _ALIASES.get(key, key)
    if key not in SCHEMES:
        raise ValueError(f"unknown tag scheme {name!r}; expected one of {', '.join(SCHEMES)}")
    return key


def _split(tag: str) -> tuple[str, str]:
    """``(prefix, type)``: ``("O", "")`` for O, ``("", tag)`` for an unprefixed tag; L/U read as E/S."""
    if len(tag) > 2 and tag[1] == "-" and tag[0] in "BIESLU":
        return _BILOU.get(tag[0], tag[0]), tag[2:]
    if tag == "O":
        return "O", ""
    return "", tag


def detect_scheme(tag_sequences: Iterable[list[str]]) -> str:
    """Guess the scheme of a data set from all its tag sequences.

    ``plain`` when some tag other than O has no prefix (or no tag has one); ``bioes`` when any E-/S-/L-/U-
    prefix occurs. Otherwise chunks are counted by how they start after O, the sentence start or another
    type: ``iob1`` when more start with I- than with B-, else ``iob2``. Counting rather than reacting to a
    single I- start keeps a few annotation errors in IOB2 data from flipping the verdict.
    """
    prefixed = ends = False
    i_starts = b_starts = 0
    for tags in tag_sequences:
        prev = ""  # type of the chunk the previous tag belongs to ("" outside)
        for tag in tags:
            prefix, kind = _split(tag)
            if not prefix:
                return "plain"
            if prefix != "O":
                prefixed = True
                if prefix in "ES":
                    ends = True
                elif kind != prev:
                    if prefix == "I":
                        i_starts += 1
                    else:
                        b_starts += 1
            prev = kind
    if not prefixed:
        return "plain"
    if ends:
        return "bioes"
    return "iob1" if i_starts > b_starts else "iob2"


def spans(tags: list[str], scheme: str) -> list[tuple[str, int, int]]:
    """The chunks as ``(type, start, end_exclusive)``, in order.

    All chunk schemes share one lenient reading: a chunk starts at B-/S-, or at I-/E- unless it continues a
    chunk of the same type that has not been closed by E-/S-; it ends after E-/S-, or before O, an
    unprefixed tag or the start of another chunk. For ``plain`` every tag but O is a one-token span.
    """
    if normalize_scheme(scheme) == "plain":
        return [(tag, i, i + 1) for i, tag in enumerate(tags) if tag != "O"]
    found: list[tuple[str, int, int]] = []
    kind = ""  # type of the open chunk, "" when none is open
    start = 0
    for i, tag in enumerate(tags):
        prefix, tag_kind = _split(tag)
        if prefix in ("", "O"):
            if kind:
                found.append((kind, start, i))
                kind = ""
            continue
        if prefix in "BS" or tag_kind != kind:
            if kind:
                found.append((kind, start, i))
            kind, start = tag_kind, i
        if prefix in "ES":
            found.append((kind, start, i + 1))
            kind = ""
    if kind:
        found.append((kind, start, len(tags)))
    return found


def convert(tags: list[str], source: str, target: str) -> list[str]:
    """Re-encode ``tags`` from one scheme to another, keeping their chunks (as read by :func:`spans`).

    ``plain`` converts only to itself; converting a scheme to itself returns an unchanged copy.
    """
    source, target = normalize_scheme(source), normalize_scheme(target)
    if source == target:
        return list(tags)
    if "plain" in (source, target):
        raise ValueError(f"cannot convert tags from {source} to {target}")
    out = ["O"] * len(tags)
    prev_end, prev_kind = -1, ""
    for kind, start, end in spans(tags, source):
        out[start:end] = ["I-" + kind] * (end - start)
        if target == "iob1":
            if start == prev_end and kind == prev_kind:  # B- only where a same-type chunk just ended
                out[start] = "B-" + kind
            prev_end, prev_kind = end, kind
        elif target == "iob2":
            out[start] = "B-" + kind
        elif end - start == 1:
            out[start] = "S-" + kind
        else:
            out[start], out[end - 1] = "B-" + kind, "E-" + kind
    return out


def _allowed(scheme: str, from_prefix: str, from_kind: str, to_prefix: str, to_kind: str) -> bool:
    """AllenNLP's ``is_transition_allowed`` on split tags; prefixes include "START" and "END"."""
    if to_prefix == "START" or from_prefix == "END":
        return False
    if scheme == "bioes":
        if from_prefix == "START":
            return to_prefix in ("O", "B", "S")
        if to_prefix == "END":
            return from_prefix in ("O", "E", "S")
        if from_prefix in ("O", "E", "S"):
            return to_prefix in ("O", "B", "S")
        return from_prefix in ("B", "I") and to_prefix in ("I", "E") and from_kind == to_kind
    if scheme == "iob2":
        if from_prefix == "START":
            return to_prefix in ("O", "B")
        if to_prefix == "END":
            return from_prefix in ("O", "B", "I")
        return to_prefix in ("O", "B") or (to_prefix == "I" and from_prefix in ("B", "I") and from_kind == to_kind)
    if scheme == "iob1":
        if from_prefix == "START":
            return to_prefix in ("O", "I")
        if to_prefix == "END":
            return from_prefix in ("O", "B", "I")
        return to_prefix in ("O", "I") or (to_prefix == "B" and from_prefix in ("B", "I") and from_kind == to_kind)
    return not (from_prefix == "START" and to_prefix == "END")  # plain: anything but an empty sequence


def fits_scheme(tag: str, scheme: str) -> bool:
    """Whether ``scheme`` has the tag ``tag``: O, or a prefix the scheme uses (L-/U- count as E-/S-).

    ``plain`` has every tag; no chunk scheme has an unprefixed tag such as ``NN``.
    """
    scheme = normalize_scheme(scheme)
    if scheme == "plain":
        return True
    prefix = _split(tag)[0]
    return prefix != "" and prefix in _CHUNK_PREFIXES[scheme] + "O"


def allowed_transitions(labels: list[str], scheme: str) -> list[tuple[int, int]]:
    """The allowed ``(from, to)`` label index pairs for constrained decoding, as in AllenNLP.

    Indices ``0..n-1`` are ``labels``, ``n`` is START and ``n+1`` is END; pairs come in AllenNLP's order.
    Raises ``ValueError`` for a label the scheme cannot contain (e.g. ``E-PER`` in iob2, ``NN`` in any
    chunk scheme); ``plain`` accepts any label.
    """
    scheme = normalize_scheme(scheme)
    split = [_split(label) for label in labels]
    for label in labels:
        if not fits_scheme(label, scheme):
            raise ValueError(f"label {label!r} is not a {scheme} tag")
    n = len(labels)
    nodes = list(enumerate(split)) + [(n, ("START", "")), (n + 1, ("END", ""))]
    return [
        (i, j)
        for i, (from_prefix, from_kind) in nodes
        for j, (to_prefix, to_kind) in nodes
        if _allowed(scheme, from_prefix, from_kind, to_prefix, to_kind)
    ]


def is_valid(tags: list[str], scheme: str) -> list[int]:
    """Positions whose incoming transition breaks the scheme (same rules as :func:`allowed_transitions`).

    Position ``i < len(tags)`` flags the step into ``tags[i]``; position ``len(tags)`` flags a sequence
    that ends inside an unfinished chunk. An empty list means the sequence (or an empty one) is valid.
    """
    scheme = normalize_scheme(scheme)
    if not tags:
        return []  # START -> END is never allowed, but no tags break no scheme
    steps = [("START", "")] + [_split(tag) for tag in tags] + [("END", "")]
    return [i for i in range(len(steps) - 1) if not _allowed(scheme, *steps[i], *steps[i + 1])]
