"""Prediction passes over sentences of mixed lengths run the RNN on groups of similar length
(models/encoders.length_groups): the grouping is the cheapest one (checked against every partition), and
the encoder's output and a tagger's predictions are the same as with one padded pass."""
from __future__ import annotations

import random

import pytest
import torch

from seqtag.models import encoders
from seqtag.models.encoders import StackedRNN, length_groups


def cost(groups, call_cost, step_cost):
    return sum(call_cost + width * (step_cost + len(rows)) for rows, width in groups)


def every_grouping(lengths):
    """Every partition of the rows into groups (each group runs at its longest length)."""
    rows = list(range(len(lengths)))

    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for smaller in partitions(rest):
            for i in range(len(smaller)):
                yield smaller[:i] + [[first] + smaller[i]] + smaller[i + 1 :]
            yield [[first]] + smaller

    for partition in partitions(rows):
        yield [(group, max(lengths[r] for r in group)) for group in partition]


@pytest.mark.parametrize("seed", range(40))
def test_the_grouping_is_the_cheapest_of_all_partitions(seed):
    rng = random.Random(seed)
    lengths = [rng.choice([1, 2, 3, 5, 8, 13, 30, 60]) for _ in range(rng.randint(1, 7))]
    call_cost, step_cost = rng.choice([(0, 0), (5, 1), (90, 2), (1000, 0)])
    groups = length_groups(lengths, call_cost, step_cost)
    assert sorted(r for rows, _ in groups for r in rows) == list(range(len(lengths)))
    for rows, width in groups:
        assert width == max(lengths[r] for r in rows)
    best = min(cost(g, call_cost, step_cost) for g in every_grouping(lengths))
    assert cost(groups, call_cost, step_cost) == pytest.approx(best)


def test_uniform_lengths_and_a_costly_call_keep_one_group():
    assert length_groups([7] * 50) == [(list(range(50)), 7)]
    assert len(length_groups([3, 4, 5, 6], call_cost=10**6)) == 1
    # One long sentence among many short ones runs apart from them.
    lengths = [5] * 31 + [80]
    assert sorted(width for _, width in length_groups(lengths)) == [5, 80]


@pytest.mark.parametrize("cell,layers,bidirectional", [("lstm", 1, True), ("gru", 2, True), ("rnn", 2, False)])
def test_grouped_passes_give_the_single_pass_output(cell, layers, bidirectional):
    torch.manual_seed(0)
    rnn = StackedRNN(cell, 6, 5, layers, bidirectional, 0.0).eval()
    lengths = torch.tensor([3, 40, 1, 2, 39, 5, 4, 40, 2])
    x = torch.randn(len(lengths), int(lengths.max()), 6)
    with torch.no_grad():
        grouped = rnn(x, lengths)
    assert len(length_groups(lengths.tolist())) > 1  # the case under test
    with torch.enable_grad():
        single = rnn(x, lengths).detach()  # training-style: one padded pass
    inside = torch.arange(x.shape[1]).unsqueeze(0) < lengths.unsqueeze(1)
    assert torch.allclose(grouped[inside], single[inside], atol=1e-5)


def test_a_taggers_predictions_do_not_depend_on_the_grouping(random_tagger, monkeypatch):
    """The same tags and confidences when every pass is one padded batch."""
    model = random_tagger("crf", "iob2", "iob2")
    rng = random.Random(3)
    words = ["a", "b", "c", "d", "unseen"]
    sentences = [[rng.choice(words) for _ in range(rng.choice([1, 2, 3, 25, 40]))] for _ in range(30)]
    grouped = model.predict_details(sentences, batch_size=32, confidence=True)
    monkeypatch.setattr(encoders, "length_groups", lambda lengths: [(list(range(len(lengths))), max(lengths))])
    single = model.predict_details(sentences, batch_size=32, confidence=True)
    assert [d.tags for d in grouped] == [d.tags for d in single]
    for a, b in zip(grouped, single):
        assert a.token_probs == pytest.approx(b.token_probs, abs=1e-5)


def test_ladder_sizes_cover_every_size_with_few_shapes():
    from seqtag.models.encoders import shape_step

    sizes = [shape_step(n) for n in range(1, 5000)]
    assert all(size >= n for n, size in enumerate(sizes, 1))
    assert all(size <= max(n, 8) * 1.25 for n, size in enumerate(sizes, 1))
    assert sizes == sorted(sizes)
    assert len(set(sizes)) <= 8 + 4 * 10  # 1..8, then four sizes per doubling


def test_the_char_cnn_gives_the_same_vectors_on_ladder_shapes():
    from seqtag.models.encoders import CharCNN

    torch.manual_seed(0)
    cnn = CharCNN(num_chars=20, char_dim=4, filters=6, kernel=3).eval()
    lengths = torch.tensor([1, 7, 3, 11, 2])
    chars = torch.randint(1, 20, (5, 11)) * (torch.arange(11) < lengths.unsqueeze(1))
    with torch.no_grad():
        padded = cnn(chars, lengths)  # prediction: run on (shape_step(5), shape_step(11)) = (5, 12)
    with torch.enable_grad():
        plain = cnn(chars, lengths).detach()
    assert padded.shape == plain.shape == (5, 6)
    assert torch.allclose(padded, plain, atol=1e-5)


def test_grouped_output_keeps_the_rnns_dtype(monkeypatch):
    """Under autocast the RNN may answer in a lower precision than its input: the grouped output follows it."""
    rnn = StackedRNN("lstm", 6, 5, 1, True, 0.0).eval()
    plain = StackedRNN._run
    monkeypatch.setattr(StackedRNN, "_run", lambda self, x, lengths: plain(self, x, lengths).double())
    lengths = torch.tensor([2, 30, 3])
    with torch.no_grad():
        out = rnn(torch.randn(3, 30, 6), lengths)
    assert out.dtype == torch.float64 and out.shape == (3, 30, 10)
