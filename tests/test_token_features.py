"""--casing-dim (a casing-class vector beside each word vector), --locked-dropout (one dropout mask
per sentence) and --char-dropout (dropout on the character embeddings)."""
from __future__ import annotations

import pytest
import torch

from seqtag.config import DataConfig, ModelConfig, as_dict, from_dict
from seqtag.data.batching import Collator
from seqtag.data.casing import CASES, casing
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.models.encoders import CharCNN, CharLSTM, SequenceDropout, TokenEncoder
from seqtag.tasks.tagging import Tagger, build_net, label_set


@pytest.mark.parametrize("token,case", [
    ("1996", "numeric"), ("12.5", "mainly numeric"), ("3-2", "mainly numeric"), ("berlin", "lower"),
    ("EU", "UPPER"), ("Berlin", "Initial"), ("McDonald", "Initial"), ("mp3", "lower"), ("a1B", "has digit"), ("iPhone", "other"),
    (",", "other"), ("B2B", "UPPER"),
])
def test_casing_classes(token, case):
    assert CASES[casing(token)] == case


def test_padding_is_its_own_class_and_no_token_gets_it():
    assert CASES[0] == "<pad>"
    assert all(casing(t) > 0 for t in ["", "x", "X", "1", "é", "É", "_"])


def _tagger(**settings) -> Tagger:
    torch.manual_seed(0)
    words = WordVocab(["<pad>", "<unk>", "berlin", "is", "big"])
    labels = Vocab(label_set([["B-LOC", "O"]], "bioes"))
    config = ModelConfig(hidden=6, word_dim=5, char_encoder="none", dropout=0.0, **settings)
    return Tagger(build_net(config, words, None, labels, "bioes"), words, None, labels, config, DataConfig(),
                  data_scheme="iob2")


def test_casing_vector_tells_what_lowercased_words_cannot(tmp_path):
    tagger = _tagger(casing_dim=3)
    batch = tagger.collate([["Berlin", "is", "BIG"], ["berlin"]])
    assert batch.cases.tolist() == [[5, 3, 4], [3, 0, 0]]
    assert batch.words[0, 0] == batch.words[1, 0]  # one row of the word table for both spellings
    with torch.inference_mode():
        emissions = tagger.net.emissions(batch)
    assert not torch.allclose(emissions[0, 0], emissions[1, 0])
    tagger.save(tmp_path / "m.seqtag")
    loaded = Tagger.load(tmp_path / "m.seqtag")
    assert loaded.predict([["Berlin", "is", "BIG"]]) == tagger.predict([["Berlin", "is", "BIG"]])
    assert _tagger().collate([["Berlin"]]).cases is None  # not computed for models without it
    with pytest.raises(ValueError, match="casing classes"):
        tagger.net.emissions(Collator(tagger.words, None, tagger.labels)([["Berlin"]]))


def test_locked_dropout_drops_the_same_units_at_every_position():
    torch.manual_seed(0)
    dropout = SequenceDropout(0.5).train()
    out = dropout(torch.ones(4, 7, 32))
    assert set(out.unique().tolist()) <= {0.0, 2.0}
    assert (out == out[:, :1]).all()  # one mask per sentence
    assert not (out[0] == out[1]).all()  # a mask of its own for each
    assert 0.3 < (out == 0).float().mean() < 0.7
    assert torch.equal(dropout.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_locked_dropout_is_the_encoders_dropout_everywhere():
    config = ModelConfig(hidden=6, word_dim=5, char_encoder="none", dropout=0.3, layers=2, locked_dropout=True)
    encoder = TokenEncoder(config, 5, 1)
    assert isinstance(encoder.dropout, SequenceDropout) and isinstance(encoder.rnn.dropout, SequenceDropout)
    assert encoder.rnn.dropout.p == encoder.dropout.p == 0.3
    plain = TokenEncoder(ModelConfig(hidden=6, word_dim=5, layers=2), 5, 3)
    assert type(plain.dropout) is type(plain.rnn.dropout) is torch.nn.Dropout


@pytest.mark.parametrize("encoder,kind", [("cnn", CharCNN), ("lstm", CharLSTM)])
def test_char_dropout_drops_character_embeddings_while_training_only(encoder, kind):
    torch.manual_seed(0)
    config = ModelConfig(hidden=6, word_dim=5, char_encoder=encoder, char_dim=16, char_hidden=8, char_dropout=0.5)
    chars = TokenEncoder(config, 5, 30).chars
    assert isinstance(chars, kind) and chars.dropout.p == 0.5
    seen = []
    inner = chars.conv if encoder == "cnn" else chars.lstm
    inner.register_forward_pre_hook(lambda module, args: seen.append(args[0]))
    ids = torch.randint(1, 30, (40, 9))
    lengths = torch.full((40,), 9)
    chars.train()(ids, lengths)
    x = seen[-1] if encoder == "cnn" else seen[-1].data  # the CNN's input, or the LSTM's packed data
    assert 0.35 < (x == 0).float().mean() < 0.65  # half the embedding values dropped
    with torch.no_grad():
        chars.eval()
        dropped = chars(ids, lengths)
        chars.dropout.p = 0.0
        assert torch.equal(chars(ids, lengths), dropped)  # prediction never drops


def test_models_saved_before_char_dropout_load_without_it():
    saved = as_dict(ModelConfig())
    del saved["char_dropout"]
    assert from_dict(ModelConfig, saved).char_dropout == 0.0
    assert TokenEncoder(ModelConfig(hidden=6, word_dim=5), 5, 30).chars.dropout.p == 0.0
