"""LinearChainCRF against brute-force enumeration of every tag sequence, plus its input contract."""
from __future__ import annotations

import itertools
import math

import pytest
import torch

from seqtag.models.crf import LinearChainCRF

# The brute-force oracle (make_case, random_constraints, allowed, enumerate_paths, logsumexp, crf_lengths)
# is a set of conftest fixtures: test_confidence checks the taggers' probabilities with it too.
CASES = [(seed, k, constrained) for seed, k in [(0, 3), (1, 4), (2, 4)] for constrained in (False, True)]
CASE_IDS = [f"seed{s}-K{k}-{'constrained' if c else 'free'}" for s, k, c in CASES]


@pytest.fixture(params=CASES, ids=CASE_IDS)
def case(request, enumerate_paths, make_case, random_constraints):
    seed, num_tags, use_constraints = request.param
    constraints = random_constraints(seed, num_tags) if use_constraints else None
    crf, emissions, mask = make_case(seed, num_tags, constraints)
    return crf, emissions, mask, constraints, enumerate_paths(crf, emissions, mask, constraints)


# ---------------------------------------------------------------------------- oracle tests


def test_log_partition(case, logsumexp):
    crf, emissions, mask, _, paths = case
    expected = torch.tensor([logsumexp([s for s, _ in seq]) for seq in paths], dtype=torch.float64)
    torch.testing.assert_close(crf.log_partition(emissions, mask), expected, rtol=0, atol=1e-9)


def test_log_likelihood(case, logsumexp):
    crf, emissions, mask, _, paths = case
    gen = torch.Generator().manual_seed(7)
    # A random allowed path per sequence, padded with -100 to check padding values are ignored.
    tags = torch.full(mask.shape, -100, dtype=torch.long)
    expected = []
    for b, seq in enumerate(paths):
        score, path = seq[torch.randint(len(seq), (1,), generator=gen).item()]
        tags[b, : len(path)] = torch.tensor(path)
        expected.append(score - logsumexp([s for s, _ in seq]))
    expected = torch.tensor(expected, dtype=torch.float64)
    torch.testing.assert_close(crf.log_likelihood(emissions, tags, mask), expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="none"), -expected, rtol=0, atol=1e-9)


def test_decode(case, allowed):
    crf, emissions, mask, constraints, paths = case
    best, scores = crf.decode(emissions, mask)
    assert best.dtype == torch.long and best.shape == mask.shape
    for b, seq in enumerate(paths):
        score, path = seq[0]
        length = len(path)
        assert tuple(best[b, :length].tolist()) == path
        assert allowed(path, constraints, crf.num_tags)
        assert best[b, length:].eq(0).all()
        assert scores[b].item() == pytest.approx(score, abs=1e-9)


def test_marginals(case, logsumexp):
    crf, emissions, mask, _, paths = case
    expected = torch.zeros(emissions.shape, dtype=torch.float64)
    for b, seq in enumerate(paths):
        log_z = logsumexp([s for s, _ in seq])
        for score, path in seq:
            for t, y in enumerate(path):
                expected[b, t, y] += math.exp(score - log_z)
    got = crf.marginals(emissions, mask)
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-9)
    torch.testing.assert_close(got.sum(2), mask.double(), rtol=0, atol=1e-9)


@pytest.mark.parametrize("k", [1, 4, 7])
def test_nbest(case, k, crf_lengths):
    crf, emissions, mask, _, paths = case
    best, scores = crf.nbest(emissions, mask, k)
    assert best.shape == (len(crf_lengths), k, max(crf_lengths)) and scores.shape == (len(crf_lengths), k)
    assert (scores[:, :-1] >= scores[:, 1:]).all()
    for b, seq in enumerate(paths):
        # Constrained models may fill the tail with (heavily penalised) disallowed paths.
        for r, (score, path) in enumerate(seq[:k]):
            assert tuple(best[b, r, : len(path)].tolist()) == path
            assert best[b, r, len(path):].eq(0).all()
            assert scores[b, r].item() == pytest.approx(score, abs=1e-9)
        if len(seq) < k:
            assert (scores[b, len(seq):] < -5000).all()


def test_nbest_marks_missing_paths_with_neg_inf():
    crf = LinearChainCRF(2).double()
    emissions = torch.randn(2, 2, 2, dtype=torch.float64)
    mask = torch.tensor([[True, True], [True, False]])
    best, scores = crf.nbest(emissions, mask, 5)
    assert torch.isfinite(scores[0, :4]).all() and scores[0, 4] == float("-inf")
    assert torch.isfinite(scores[1, :2]).all() and (scores[1, 2:] == float("-inf")).all()
    assert best[0, 4].eq(0).all() and best[1, 2:].eq(0).all()
    torch.testing.assert_close(scores[:, 0], crf.decode(emissions, mask)[1])


def test_disallowed_sequences_get_zero_probability(allowed, crf_lengths, make_case, random_constraints):
    num_tags = 4
    constraints = random_constraints(0, num_tags)
    crf, emissions, mask = make_case(0, num_tags, constraints)
    everything = list(itertools.product(range(num_tags), repeat=max(crf_lengths)))
    forbidden = [p for p in everything if not allowed(p, constraints, num_tags)]
    tags = torch.tensor(forbidden)
    full = torch.ones(tags.shape, dtype=torch.bool)
    em = emissions[:1].expand(len(forbidden), -1, -1)
    assert crf.log_likelihood(em, tags, full).exp().max().item() < 1e-100


# ---------------------------------------------------------------------------- contract tests


@pytest.fixture
def small():
    crf = LinearChainCRF(3)
    emissions = torch.randn(2, 4, 3)
    tags = torch.zeros(2, 4, dtype=torch.long)
    mask = torch.tensor([[True, True, True, True], [True, True, False, False]])
    return crf, emissions, tags, mask


@pytest.mark.parametrize(
    "change",
    [
        "uint8_mask",
        "wrong_k",
        "two_d_emissions",
        "int_emissions",
        "tags_shape",
        "int32_tags",
        "tags_out_of_range",
        "mask_shape",
        "first_step_masked",
        "mask_not_prefix",
        "empty_sequence",
    ],
)
def test_invalid_inputs_raise(small, change):
    crf, emissions, tags, mask = small
    if change == "uint8_mask":
        mask = mask.to(torch.uint8)
    elif change == "wrong_k":
        emissions = torch.randn(2, 4, 5)
    elif change == "two_d_emissions":
        emissions = emissions[0]
    elif change == "int_emissions":
        emissions = emissions.long()
    elif change == "tags_shape":
        tags = tags[:, :3]
    elif change == "int32_tags":
        tags = tags.int()
    elif change == "tags_out_of_range":
        tags = tags.clone()
        tags[0, 1] = 3
    elif change == "mask_shape":
        mask = mask[:, :3]
    elif change == "first_step_masked":
        mask = mask.clone()
        mask[1, 0] = False
    elif change == "mask_not_prefix":
        mask = mask.clone()
        mask[1, 3] = True
    elif change == "empty_sequence":
        emissions, tags, mask = emissions[:, :0], tags[:, :0], mask[:, :0]
    with pytest.raises(ValueError, match="expected.*got"):
        crf(emissions, tags, mask)
    if change not in ("tags_shape", "int32_tags", "tags_out_of_range"):
        for method in (crf.log_partition, crf.decode, crf.marginals):
            with pytest.raises(ValueError, match="expected.*got"):
                method(emissions, mask)
        with pytest.raises(ValueError, match="expected.*got"):
            crf.nbest(emissions, mask, 2)


def test_invalid_arguments_raise(small):
    crf, emissions, tags, mask = small
    with pytest.raises(ValueError, match="expected reduction.*got 'avg'"):
        crf(emissions, tags, mask, reduction="avg")
    with pytest.raises(ValueError, match="expected k >= 1, got 0"):
        crf.nbest(emissions, mask, 0)
    with pytest.raises(ValueError, match=r"expected constraint indices in \[0, 5\), got \(0, 5\)"):
        LinearChainCRF(3, [(0, 5)])
    with pytest.raises(ValueError, match="expected num_tags > 0, got 0"):
        LinearChainCRF(0)


def test_padding_tags_are_ignored(small):
    crf, emissions, tags, mask = small
    padded = tags.masked_fill(~mask, -100)
    expected = crf.log_likelihood(emissions, tags, mask)
    torch.testing.assert_close(crf.log_likelihood(emissions, padded, mask), expected)


def test_reductions(small):
    crf, emissions, tags, mask = small
    nll = crf(emissions, tags, mask, reduction="none")
    assert nll.shape == (2,) and (nll > 0).all()
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="sum"), nll.sum())
    torch.testing.assert_close(crf(emissions, tags, mask), nll.mean())
    torch.testing.assert_close(crf(emissions, tags, mask, reduction="token_mean"), nll.sum() / 6)


def test_float32_in_float32_out(small):
    crf, emissions, tags, mask = small
    assert crf(emissions, tags, mask).dtype == torch.float32
    assert crf.marginals(emissions, mask).dtype == torch.float32
    assert crf.nbest(emissions, mask, 3)[1].dtype == torch.float32


def test_gradients_flow(small):
    crf, emissions, tags, mask = small
    emissions.requires_grad_(True)
    crf(emissions, tags, mask).backward()
    for grad in (crf.transitions.grad, crf.start_transitions.grad, crf.end_transitions.grad, emissions.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    assert emissions.grad[1, 2:].eq(0).all()


def test_constraints_are_saved_as_bool_buffers(random_constraints):
    constraints = random_constraints(1, 4)
    crf = LinearChainCRF(4, constraints)
    state = crf.state_dict()
    for name in ("allowed_transitions", "allowed_start", "allowed_end"):
        assert state[name].dtype == torch.bool
    assert not state["allowed_start"][1] and not state["allowed_end"][2]
    assert not state["allowed_transitions"][1, 2]
    restored = LinearChainCRF(4)
    restored.load_state_dict(state)
    assert torch.equal(restored.allowed_transitions, crf.allowed_transitions)
    names = {name for name, _ in crf.named_parameters()}
    assert names == {"transitions", "start_transitions", "end_transitions"}


def test_learns_transition_pattern():
    """With all-zero emissions, only transitions can explain the cyclic pattern 0 1 2 0 1 2 ..."""
    torch.manual_seed(0)
    lengths = torch.tensor([6, 4, 5, 1, 3])
    mask = torch.arange(6)[None, :] < lengths[:, None]
    tags = (torch.arange(6) % 3).expand(len(lengths), -1).masked_fill(~mask, 0)
    emissions = torch.zeros(len(lengths), 6, 3)
    crf = LinearChainCRF(3)
    optimizer = torch.optim.Adam(crf.parameters(), lr=0.1)
    for _ in range(200):
        optimizer.zero_grad()
        crf(emissions, tags, mask).backward()
        optimizer.step()
    assert torch.equal(crf.decode(emissions, mask)[0], tags)
    assert crf.log_likelihood(emissions, tags, mask).exp().min() > 0.9
