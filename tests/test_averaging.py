"""--ema: the exponential moving average of the weights (seqtag.training.averaging) against a hand-computed
oracle, its swap in and out of the network, and a training run whose dev scores and saved weights are the
average's."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from seqtag.training.averaging import WeightAverage


def tiny() -> nn.Module:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(3, 2), nn.Linear(2, 1))
    net[1].bias.requires_grad_(False)  # frozen: not averaged
    return net


def test_the_average_follows_the_warm_up_decay():
    net = tiny()
    average = WeightAverage(net, 0.9)
    assert average.names == ["0.weight", "0.bias", "1.weight"]
    expected = {name: p.detach().clone() for name, p in net.named_parameters() if p.requires_grad}
    for n in range(30):
        with torch.no_grad():
            for p in net.parameters():
                p.add_(torch.randn_like(p))
        average.update(net)
        decay = min(0.9, (1 + n) / (10 + n))  # 0.1 at first, then up to 0.9
        for name, p in net.named_parameters():
            if name in expected:
                expected[name] = decay * expected[name] + (1 - decay) * p.detach()
    assert average.updates == 30
    for name, value in expected.items():
        assert torch.allclose(average.values[name], value, atol=1e-6), name


def test_applied_swaps_the_average_in_and_gives_the_weights_back():
    net = tiny()
    average = WeightAverage(net, 0.5)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    average.update(net)
    own = {k: v.clone() for k, v in net.state_dict().items()}
    with average.applied(net):
        for name, p in net.named_parameters():
            assert torch.equal(p, average.values[name] if name in average.values else own[name]), name
    for name, value in net.state_dict().items():
        assert torch.equal(value, own[name]), name


def test_state_round_trip_and_mismatches():
    net = tiny()
    average = WeightAverage(net, 0.99)
    average.update(net)
    other = WeightAverage(tiny(), 0.99)
    other.load_state_dict(average.state_dict())
    assert other.updates == 1 and all(torch.equal(other.values[k], v) for k, v in average.values.items())
    state = average.state_dict()
    state["values"]["0.weight"] = torch.zeros(5, 5)
    with pytest.raises(ValueError, match=r"0.weight has shape \(5, 5\)"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="does not match"):
        other.load_state_dict({"values": {}, "updates": 1})
    with pytest.raises(ValueError, match=r"decay in \(0, 1\)"):
        WeightAverage(net, 1.0)


def test_a_run_with_ema_keeps_the_average_as_its_weights(tmp_path, write_conll):
    from seqtag.config import DataConfig, ModelConfig, TrainConfig
    from seqtag.training import averaging
    from seqtag.training.train import train_model

    data = write_conll(tmp_path / "two.txt", [[("Paris", "B-LOC"), ("is", "O"), ("big", "O")],
                                              [("Anna", "B-PER"), ("sings", "O"), (".", "O")]])
    seen: list[WeightAverage] = []
    original = averaging.WeightAverage.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append(self)

    model_config = ModelConfig(hidden=8, word_dim=8, char_dim=4, char_hidden=4)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(averaging.WeightAverage, "__init__", spy)
        # no dev data: the last epoch is the best, so the saved weights are the final average
        model, _ = train_model(data, None, None, DataConfig(), model_config, TrainConfig(epochs=4, lr=0.05, batch_size=1, ema=0.9))
    [average] = seen
    assert average.updates == 8  # 2 sentences x 4 epochs
    params = dict(model.net.named_parameters())
    for name, value in average.values.items():
        assert torch.equal(params[name], value), name
    plain, _ = train_model(data, None, None, DataConfig(), model_config, TrainConfig(epochs=4, lr=0.05, batch_size=1))
    assert not torch.equal(dict(plain.net.named_parameters())["project.weight"], params["project.weight"])
