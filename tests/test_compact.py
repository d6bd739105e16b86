"""Frozen pretrained rows packed at ~5 bits per value (seqtag.vectors.compact): shapes, error bounds against a
brute-force nearest level, idempotence bit for bit (so a re-saved model is the trained one), and the state-dict
round trip."""
from __future__ import annotations

import pytest
import torch

from seqtag.vectors import compact
from seqtag.vectors.compact import NF4_LEVELS, PARTS, pack, pack_state, rounded, stored_values, unpack, unpack_state


@pytest.fixture
def few_int8_rows(monkeypatch):
    """The first 3 rows at 8 bits, the rest at 4, so that small tensors cover both ranges."""
    monkeypatch.setattr(compact, "INT8_ROWS", 3)


def rows(count: int, dim: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(count, dim, generator=generator) * torch.rand(count, 1, generator=generator) * 3
    if count > 4:
        x[4] = 0  # an all-zero row
    return x


@pytest.mark.parametrize("count, dim", [(0, 5), (1, 1), (3, 4), (10, 7), (50, 50)])
def test_pack_shapes_and_sizes(few_int8_rows, count, dim):
    parts = pack(rows(count, dim))
    assert set(parts) == set(PARTS)
    head = min(count, 3)
    assert parts["int8"].shape == (head, dim) and parts["int8"].dtype == torch.int8
    assert parts["int8_scale"].shape == (head,) and parts["int8_scale"].dtype == torch.float16
    assert parts["nf4"].shape == (count - head, (dim + 1) // 2) and parts["nf4"].dtype == torch.uint8
    assert parts["nf4_scale"].shape == (count - head,) and parts["nf4_scale"].dtype == torch.float16
    assert parts["shape"].tolist() == [count, dim]
    assert unpack(parts).shape == (count, dim) and unpack(parts).dtype == torch.float32


def test_values_are_the_nearest_levels(few_int8_rows):
    x = rows(40, 9)
    r = rounded(x)
    # 8-bit rows: within half a step of 1/127 of the row's largest magnitude (plus float16 rounding of the scale)
    head, back = x[:3], r[:3]
    step = head.abs().amax(dim=1, keepdim=True) / 127
    assert ((back - head).abs() <= step * 0.5 * (1 + 1e-3) + 1e-6).all()
    # 4-bit rows: each value is the scale times the level nearest to value / scale (brute force)
    tail, back = x[3:], r[3:]
    scale = tail.abs().amax(dim=1, keepdim=True).half().float()
    safe = torch.where(scale > 0, scale, torch.ones(()))
    nearest = (tail.div(safe).unsqueeze(2) - NF4_LEVELS).abs().argmin(dim=2)
    expected = torch.where(scale > 0, NF4_LEVELS[nearest] * scale, torch.zeros(()))
    assert torch.allclose(back, expected, atol=1e-6)
    assert torch.equal(r[4], torch.zeros(9))  # the zero row stays zero


@pytest.mark.parametrize("dim", [1, 6, 7, 50])
def test_rounding_is_idempotent_bit_for_bit(few_int8_rows, dim):
    once = rounded(rows(30, dim, seed=dim))
    assert torch.equal(rounded(once), once)
    for part, value in pack(once).items():
        assert torch.equal(pack(rounded(once))[part], value), part


def test_the_real_split_keeps_the_first_rows_at_8_bits():
    x = rows(compact.INT8_ROWS + 10, 4)
    parts = pack(x)
    assert len(parts["int8"]) == compact.INT8_ROWS and len(parts["nf4"]) == 10


def test_bytes_per_row():
    # what a 400k x 50 GloVe table costs: 52 bytes per 8-bit row, 27 per 4-bit row (float16 had 100)
    parts = pack(rows(compact.INT8_ROWS + 1000, 50))
    sizes = {part: value.numel() * value.element_size() for part, value in parts.items()}
    assert (sizes["int8"] + sizes["int8_scale"]) / compact.INT8_ROWS == 52
    assert (sizes["nf4"] + sizes["nf4_scale"]) / 1000 == 27


def test_state_round_trip_and_value_count(few_int8_rows):
    state = {"encoder.words.weight": torch.randn(4, 6), "encoder.extra_words": rounded(rows(12, 6)),
             "crf.transitions": torch.randn(3, 3), "crf.allowed": torch.ones(3, 3, dtype=torch.bool)}
    packed = pack_state(state, "extra_words")
    assert "encoder.extra_words" not in packed
    assert {k for k in packed if "packed_" in k} == {f"encoder.extra_words.packed_{p}" for p in PARTS}
    back = unpack_state(packed)
    assert back.keys() == state.keys()
    assert all(torch.equal(back[k], state[k]) for k in state)
    assert stored_values(packed) == stored_values(state) == 4 * 6 + 12 * 6 + 3 * 3


def test_a_missing_part_is_an_error(few_int8_rows):
    packed = pack_state({"encoder.extra_words": rows(5, 2)}, "extra_words")
    del packed["encoder.extra_words.packed_nf4_scale"]
    with pytest.raises(ValueError, match="encoder.extra_words: packed rows without their nf4_scale"):
        unpack_state(packed)


def test_rows_must_be_a_matrix():
    with pytest.raises(ValueError, match=r"expected rows of shape \(N, D\), got \(3,\)"):
        pack(torch.zeros(3))
