"""An exponential moving average of the trainable weights (Polyak averaging), scored on dev and saved
instead of the last step's weights: the average sits nearer the middle of the region the optimiser moves
around in, which usually generalises a little better than any single step's weights.

The decay warms up as in TensorFlow's ``ExponentialMovingAverage``: ``min(decay, (1 + n) / (10 + n))`` after
``n`` updates, so the average does not remember the random initial weights for thousands of steps.
"""
from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import nn


class WeightAverage:
    """The average of ``net``'s trainable parameters, updated after each optimiser step."""

    def __init__(self, net: nn.Module, decay: float) -> None:
        if not 0 < decay < 1:
            raise ValueError(f"expected a decay in (0, 1), got {decay}")
        self.decay = decay
        self.names = [name for name, p in net.named_parameters() if p.requires_grad]
        params = dict(net.named_parameters())
        self.values = {name: params[name].detach().clone() for name in self.names}
        self.updates = 0

    def update(self, net: nn.Module) -> None:
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates))
        params = dict(net.named_parameters())
        with torch.no_grad():
            for name, average in self.values.items():
                average.lerp_(params[name].detach(), 1 - decay)
        self.updates += 1

    @contextlib.contextmanager
    def applied(self, net: nn.Module) -> Iterator[None]:
        """``net`` holds the averaged weights inside the block, its own again after it."""
        params = dict(net.named_parameters())
        own = {name: params[name].detach().clone() for name in self.names}
        with torch.no_grad():
            for name, average in self.values.items():
                params[name].copy_(average)
        try:
            yield
        finally:
            with torch.no_grad():
                for name, weights in own.items():
                    params[name].copy_(weights)

    def state_dict(self) -> dict:
        return {"values": {name: value.detach().cpu() for name, value in self.values.items()}, "updates": self.updates}

    def load_state_dict(self, state: dict) -> None:
        values, updates = state["values"], state["updates"]
        if set(values) != set(self.values) or not isinstance(updates, int):
            raise ValueError("the weight average does not match the network's parameters")
        for name, value in values.items():
            if value.shape != self.values[name].shape:
                raise ValueError(f"the weight average of {name} has shape {tuple(value.shape)}, "
                                 f"the network's {tuple(self.values[name].shape)}")
            self.values[name].copy_(value)
        self.updates = updates
