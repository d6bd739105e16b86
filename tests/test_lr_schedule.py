"""The learning-rate schedule: decay when dev stalls, and the 1 / (1 + d (t - 1)) decay over epochs."""
from __future__ import annotations

import pytest

from seqtag.config import TrainConfig
from seqtag.training.loop import next_lr


def run_schedule(config: TrainConfig, stalls: list[int]) -> list[float]:
    """The rate of each epoch, given how many epochs dev had stalled after each one."""
    rates = [config.lr]
    for epoch, stalled in enumerate(stalls, 1):
        rates.append(next_lr(rates[-1], epoch, stalled, config))
    return rates


def test_without_stalls_or_time_decay_the_rate_stays():
    assert run_schedule(TrainConfig(lr=0.01), [0] * 10) == [0.01] * 11


@pytest.mark.parametrize("decay", [0.05, 0.5, 2.0])
def test_time_decay_gives_the_inverse_time_schedule(decay):
    config = TrainConfig(lr=0.03, lr_time_decay=decay)
    rates = run_schedule(config, [0] * 40)
    expected = [0.03 / (1 + decay * (t - 1)) for t in range(1, 42)]
    assert rates == pytest.approx(expected, rel=1e-12)


def test_a_stall_halves_the_rate_every_second_stalled_epoch():
    config = TrainConfig(lr=0.01, lr_decay=0.5)
    # dev improves, stalls twice (halve), a third time (keep), a fourth time (halve), improves
    rates = run_schedule(config, [0, 1, 2, 3, 4, 0])
    assert rates == pytest.approx([0.01, 0.01, 0.01, 0.005, 0.005, 0.0025, 0.0025])


def test_both_decays_multiply():
    config = TrainConfig(lr=0.02, lr_decay=0.5, lr_time_decay=0.1)
    rates = run_schedule(config, [0, 2, 0])
    assert rates == pytest.approx([0.02, 0.02 / 1.1, 0.5 * 0.02 / 1.2, 0.5 * 0.02 / 1.3])


def test_lr_decay_one_never_decays_on_stalls():
    assert run_schedule(TrainConfig(lr=0.01, lr_decay=1.0), [1, 2, 3, 4]) == [0.01] * 5
