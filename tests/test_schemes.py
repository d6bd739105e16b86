"""Tag schemes: detection, lenient spans (checked against seqeval), conversion, AllenNLP transitions."""
from __future__ import annotations

import random
from pathlib import Path

import pytest
from seqeval.metrics.sequence_labeling import get_entities

from seqtag.formats.columns import read_columns
from seqtag.data.schemes import allowed_transitions, convert, detect_scheme, is_valid, normalize_scheme, spans

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
TYPES = ["PER", "LOC", "ORG"]

# One sentence in each scheme, with adjacent same-type chunks, single-token chunks and a type change.
IOB1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "I-ORG", "O", "I-LOC"]
IOB2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "O", "B-LOC"]
BIOES = ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "E-ORG", "O", "S-LOC"]
CHUNKS = [("PER", 0, 2), ("PER", 2, 3), ("LOC", 4, 5), ("ORG", 5, 7), ("LOC", 8, 9)]
BY_SCHEME = {"iob1": IOB1, "iob2": IOB2, "bioes": BIOES}


# ---------------------------------------------------------------------------- names and detection


@pytest.mark.parametrize(
    ("name", "canonical"),
    [("iob1", "iob1"), ("IOB2", "iob2"), ("bio", "iob2"), ("bioes", "bioes"), ("BILOU", "bioes"),
     ("iobes", "bioes"), ("bioul", "bioes"), ("plain", "plain")],
)
def test_normalize_scheme(name, canonical):
    assert normalize_scheme(name) == canonical


def test_normalize_unknown_scheme():
    with pytest.raises(ValueError, match="unknown tag scheme 'bmes'"):
        normalize_scheme("bmes")


@pytest.mark.parametrize(
    ("sequences", "scheme"),
    [
        ([["NN", "VBZ"], ["DT"]], "plain"),
        ([["O", "O"]], "plain"),
        ([["B-PER", "O"], ["NN"]], "plain"),  # one unprefixed tag: not chunk data
        ([BIOES], "bioes"),
        ([["O"], ["B-PER", "L-PER", "U-LOC"]], "bioes"),
        ([IOB1], "iob1"),
        ([["O", "I-LOC"], ["I-PER", "I-PER"]], "iob1"),
        ([IOB2], "iob2"),
        ([["B-PER", "I-PER", "B-PER"]], "iob2"),
        # A stray I- start among many B- starts is an annotation error, not IOB1.
        ([["B-PER", "O", "I-LOC"], ["B-LOC", "O", "B-ORG"]], "iob2"),
        ([], "plain"),
    ],
)
def test_detect_scheme(sequences, scheme):
    assert detect_scheme(iter(sequences)) == scheme


# ---------------------------------------------------------------------------- spans and conversion


@pytest.mark.parametrize("scheme", ["iob1", "iob2", "bioes"])
def test_spans_of_hand_case(scheme):
    assert spans(BY_SCHEME[scheme], scheme) == CHUNKS


def test_spans_plain_and_empty():
    assert spans(["NN", "O", "VB"], "plain") == [("NN", 0, 1), ("VB", 2, 3)]
    assert spans([], "iob2") == []


def test_spans_bilou_letters():
    assert spans(["B-PER", "I-PER", "L-PER", "U-LOC", "O"], "bilou") == [("PER", 0, 3), ("LOC", 3, 4)]


def test_spans_are_lenient_like_seqeval():
    # Arbitrary, mostly invalid sequences over every prefix seqeval knows.
    rng = random.Random(0)
    tags = ["O"] + [f"{p}-{t}" for p in "BIES" for t in TYPES[:2]]
    for _ in range(2000):
        seq = rng.choices(tags, k=rng.randint(0, 8))
        expected = [(t, start, end + 1) for t, start, end in get_entities(seq)]
        assert spans(seq, "iob2") == spans(seq, "bioes") == expected, seq


@pytest.mark.parametrize("source", ["iob1", "iob2", "bioes"])
@pytest.mark.parametrize("target", ["iob1", "iob2", "bioes"])
def test_convert_hand_case(source, target):
    assert convert(BY_SCHEME[source], source, target) == BY_SCHEME[target]


@pytest.mark.parametrize(
    ("tags", "source", "target", "expected"),
    [
        (["O", "I-PER", "I-PER"], "iob2", "bioes", ["O", "B-PER", "E-PER"]),
        (["I-PER", "I-LOC"], "iob2", "iob2", ["I-PER", "I-LOC"]),  # same scheme: untouched copy
        (["I-PER", "I-LOC"], "iob2", "iob1", ["I-PER", "I-LOC"]),
        (["B-PER", "O"], "bioes", "iob2", ["B-PER", "O"]),
        (["E-PER", "E-PER"], "bioes", "iob1", ["I-PER", "B-PER"]),
        (["B-PER", "L-PER", "U-LOC"], "bilou", "iob2", ["B-PER", "I-PER", "B-LOC"]),
        (["B-PER", "I-PER"], "iob1", "bioes", ["B-PER", "E-PER"]),
    ],
)
def test_convert_lenient_cases(tags, source, target, expected):
    assert convert(tags, source, target) == expected


def test_convert_same_scheme_copies():
    tags = ["NN", "VB"]
    converted = convert(tags, "plain", "plain")
    assert converted == tags and converted is not tags


@pytest.mark.parametrize(("source", "target"), [("plain", "iob2"), ("bioes", "plain")])
def test_convert_plain_only_to_plain(source, target):
    with pytest.raises(ValueError, match="cannot convert"):
        convert(["O"], source, target)


def random_chunks(rng: random.Random) -> tuple[int, list[tuple[str, int, int]]]:
    """A sentence length and random non-overlapping chunks, often adjacent and of one type."""
    length = rng.randint(0, 12)
    chunks, i = [], 0
    while i < length:
        if rng.random() < 0.4:
            i += 1
            continue
        end = min(length, i + rng.randint(1, 3))
        chunks.append((rng.choice(TYPES[:2]), i, end))
        i = end
    return length, chunks


def iob2_of(length: int, chunks: list[tuple[str, int, int]]) -> list[str]:
    tags = ["O"] * length
    for kind, start, end in chunks:
        tags[start:end] = ["B-" + kind] + ["I-" + kind] * (end - start - 1)
    return tags


def test_random_round_trips_keep_spans_and_tags():
    rng = random.Random(1)
    for _ in range(1000):
        length, chunks = random_chunks(rng)
        iob2 = iob2_of(length, chunks)
        assert spans(iob2, "iob2") == chunks
        by_scheme = {target: convert(iob2, "iob2", target) for target in ("iob1", "bioes")}
        by_scheme["iob2"] = iob2
        for source, tags in by_scheme.items():
            assert spans(tags, source) == chunks
            for target, expected in by_scheme.items():
                assert convert(tags, source, target) == expected, (source, target, tags)


def test_random_conversions_use_only_allowed_transitions():
    rng = random.Random(2)
    prefixes = {"iob1": "BI", "iob2": "BI", "bioes": "BIES"}
    for scheme, letters in prefixes.items():
        labels = ["O"] + [f"{p}-{t}" for t in TYPES[:2] for p in letters]
        index = {label: i for i, label in enumerate(labels)}
        start, end = len(labels), len(labels) + 1
        allowed = set(allowed_transitions(labels, scheme))
        for _ in range(500):
            tags = convert(iob2_of(*random_chunks(rng)), "iob2", scheme)
            path = [start] + [index[t] for t in tags] + [end]
            if tags:
                assert all(step in allowed for step in zip(path, path[1:])), (scheme, tags)
            assert is_valid(tags, scheme) == []


# ---------------------------------------------------------------------------- transitions

IOB_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
BIOES_LABELS = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC"]

EXPECTED = {
    "iob2": {
        "START": ["O", "B-PER", "B-LOC"],
        "O": ["O", "B-PER", "B-LOC", "END"],
        "B-PER": ["O", "B-PER", "I-PER", "B-LOC", "END"],
        "I-PER": ["O", "B-PER", "I-PER", "B-LOC", "END"],
        "B-LOC": ["O", "B-PER", "B-LOC", "I-LOC", "END"],
        "I-LOC": ["O", "B-PER", "B-LOC", "I-LOC", "END"],
        "END": [],
    },
    "iob1": {
        "START": ["O", "I-PER", "I-LOC"],
        "O": ["O", "I-PER", "I-LOC", "END"],
        "B-PER": ["O", "B-PER", "I-PER", "I-LOC", "END"],
        "I-PER": ["O", "B-PER", "I-PER", "I-LOC", "END"],
        "B-LOC": ["O", "I-PER", "B-LOC", "I-LOC", "END"],
        "I-LOC": ["O", "I-PER", "B-LOC", "I-LOC", "END"],
        "END": [],
    },
    "bioes": {
        "START": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC"],
        "O": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC", "END"],
        "B-PER": ["I-PER", "E-PER"],
        "I-PER": ["I-PER", "E-PER"],
        "E-PER": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC", "END"],
        "S-PER": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC", "END"],
        "B-LOC": ["I-LOC", "E-LOC"],
        "I-LOC": ["I-LOC", "E-LOC"],
        "E-LOC": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC", "END"],
        "S-LOC": ["O", "B-PER", "S-PER", "B-LOC", "S-LOC", "END"],
        "END": [],
    },
}


@pytest.mark.parametrize("scheme", ["iob2", "iob1", "bioes"])
def test_allowed_transitions_complete_sets(scheme):
    labels = BIOES_LABELS if scheme == "bioes" else IOB_LABELS
    index = {label: i for i, label in enumerate(labels + ["START", "END"])}
    expected = {(index[a], index[b]) for a, targets in EXPECTED[scheme].items() for b in targets}
    result = allowed_transitions(labels, scheme)
    assert set(result) == expected
    assert result == sorted(expected)  # AllenNLP's order: from-label major, START and END last


def test_allowed_transitions_bilou_letters_match_bioes():
    bilou = ["O", "B-PER", "I-PER", "L-PER", "U-PER"]
    bioes = ["O", "B-PER", "I-PER", "E-PER", "S-PER"]
    assert allowed_transitions(bilou, "bilou") == allowed_transitions(bioes, "bioes")


def test_allowed_transitions_plain_allows_all_but_boundaries():
    # Labels 0, 1; START = 2, END = 3.
    assert allowed_transitions(["NN", "VB"], "plain") == [
        (0, 0), (0, 1), (0, 3), (1, 0), (1, 1), (1, 3), (2, 0), (2, 1)
    ]


@pytest.mark.parametrize(("labels", "scheme"), [(["O", "E-PER"], "iob2"), (["O", "NN"], "bioes")])
def test_allowed_transitions_rejects_foreign_labels(labels, scheme):
    with pytest.raises(ValueError, match="is not a"):
        allowed_transitions(labels, scheme)


@pytest.mark.parametrize(
    ("tags", "scheme", "positions"),
    [
        (IOB1, "iob1", []),
        (IOB2, "iob2", []),
        (BIOES, "bioes", []),
        ([], "bioes", []),
        (["B-PER"], "bioes", [1]),
        (["O", "I-PER", "E-LOC"], "bioes", [1, 2]),
        (["O", "I-PER"], "iob2", [1]),
        (["B-PER", "I-LOC"], "iob2", [1]),
        (["B-PER", "O"], "iob1", [0]),
        (["O", "B-PER"], "iob1", [1]),
        (["NN", "VB"], "plain", []),
    ],
)
def test_is_valid(tags, scheme, positions):
    assert is_valid(tags, scheme) == positions


# ---------------------------------------------------------------------------- real data


def test_conll2003_iob1_converts_to_the_iob2_release():
    iob2_path = DATA / "ner/conll2003/train.txt"
    iob1_path = DATA / "ner/conll2003-iob1/eng.train"
    if not (iob2_path.is_file() and iob1_path.is_file()):
        pytest.skip(f"shared data sets not available: {iob2_path}, {iob1_path}")
    iob2_tags, iob1_tags = [], []
    for iob2, iob1 in zip(read_columns(iob2_path), read_columns(iob1_path), strict=True):
        assert iob1.tokens == iob2.tokens, iob1.line
        assert convert(iob1.tags, "iob1", "iob2") == iob2.tags, iob1.line
        iob2_tags.append(iob2.tags)
        iob1_tags.append(iob1.tags)
    assert detect_scheme(iob2_tags) == "iob2"
    assert detect_scheme(iob1_tags) == "iob1"
