"""Several networks of one task, trained apart (other seeds) over the same vocabularies, predicting as one.

A tagger ensemble scores each tag by the mean of its members' emission scores and, with a CRF head, decodes
with the mean of their transition scores (one Viterbi pass, so predictions stay valid paths); a classifier
ensemble averages its members' probabilities. Members are not trained as an ensemble: :meth:`loss` refuses.
"""
from __future__ import annotations

import copy
import re

import torch
from torch import nn

from seqtag.data.batching import Batch
from seqtag.models.tagger import TaggerNet
from seqtag.vectors.compact import FROZEN_SUFFIX

_MEMBER = re.compile(r"members\.(\d+)\.(.*)")


class EnsembleNet(nn.Module):
    """The members' mean; the same interface as the members' network for prediction."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"expected 2 or more members, got {len(members)}")
        kinds = {type(member) for member in members}
        if len(kinds) != 1:
            raise ValueError(f"expected members of one network type, got {sorted(k.__name__ for k in kinds)}")
        self.members = nn.ModuleList(members)
        crf = getattr(members[0], "crf", None)
        # the mean transitions (a parameter of the ensemble's own, saved with it); the constraints are the members'
        self.crf = copy.deepcopy(crf) if crf is not None else None
        if self.crf is not None:
            with torch.no_grad():
                for name, parameter in self.crf.named_parameters():
                    parameter.copy_(torch.stack([m.crf.get_parameter(name) for m in members]).mean(dim=0))

    def __len__(self) -> int:
        return len(self.members)

    @property
    def encoder(self) -> nn.Module:
        """The first member's encoder (what `seqtag diagnose` inspects)."""
        return self.members[0].encoder

    def emissions(self, batch: Batch) -> torch.Tensor:
        """(B, T, num_tags): the members' mean."""
        return torch.stack([member.emissions(batch) for member in self.members]).mean(dim=0)

    decode = TaggerNet.decode  # Viterbi over the mean emissions and the mean transitions (or argmax)

    def probabilities(self, batch: Batch) -> torch.Tensor:
        """(B, num_classes): the members' mean probabilities."""
        return torch.stack([member.probabilities(batch) for member in self.members]).mean(dim=0)

    def loss(self, batch: Batch) -> torch.Tensor:
        raise ValueError("an ensemble is not trained as a whole: train its members (seqtag train --seeds N --ensemble)")

    def _apply(self, fn, recurse=True):  # noqa: ANN001 - nn.Module's signature
        # .to() / .half() move each buffer on its own: tie the shared frozen rows again afterwards
        first = self.members[0].encoder
        tied = [m.encoder for m in self.members[1:] if m.encoder.extra_words is first.extra_words]
        super()._apply(fn, recurse)
        for encoder in tied:
            encoder.extra_words = first.extra_words
        return self

    def share_frozen(self) -> None:
        """Make every member read the first member's frozen pretrained rows (one copy in memory), after
        checking they are the same rows (members trained on the same data with the same vectors)."""
        first = self.members[0].encoder.extra_words
        for member in self.members[1:]:
            if not torch.equal(member.encoder.extra_words, first):
                raise ValueError("expected members with the same frozen pretrained rows (the same training data "
                                 "and vectors), got different ones")
            member.encoder.extra_words = first


def shared_state(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An ensemble's state dict without the members' copies of the first member's frozen pretrained rows
    (:meth:`EnsembleNet.share_frozen` made them one tensor): the model file holds them once."""
    return {name: tensor for name, tensor in state.items() if not _repeated_frozen(name)}


def full_state(state: dict[str, torch.Tensor], members: int) -> dict[str, torch.Tensor]:
    """The inverse of :func:`shared_state`: every member's frozen rows, read from the first member's."""
    full = dict(state)
    for name, tensor in state.items():
        found = _MEMBER.fullmatch(name)
        if found and found.group(1) == "0" and name.endswith(FROZEN_SUFFIX):
            for i in range(1, members):
                full.setdefault(f"members.{i}.{found.group(2)}", tensor)
    return full


def _repeated_frozen(name: str) -> bool:
    found = _MEMBER.fullmatch(name)
    return bool(found) and found.group(1) != "0" and name.endswith(FROZEN_SUFFIX)
