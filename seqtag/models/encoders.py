"""Encoders shared by taggers and classifiers: characters -> word vectors, words -> contextual vectors."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from seqtag.batching import Batch
from seqtag.config import ModelConfig

_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}


class CharCNN(nn.Module):
    """Ma & Hovy (2016): char embeddings -> 1-D convolution -> max over positions."""

    def __init__(self, num_chars: int, char_dim: int, filters: int, kernel: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_dim = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (U, L) long, lengths (U,) -> (U, filters)."""
        x = self.embed(chars).transpose(1, 2)  # shape: (U, char_dim, L)
        h = self.conv(x)  # shape: (U, filters, L') with L' = L for odd kernels
        width = h.shape[2]
        pad = torch.arange(width).unsqueeze(0) >= lengths.unsqueeze(1)  # shape: (U, L')
        h = h.masked_fill(pad.unsqueeze(1), float("-inf"))
        return h.max(dim=2).values


class CharLSTM(nn.Module):
    """Lample et al. (2016): a BiLSTM over characters; final states of both directions."""

    def __init__(self, num_chars: int, char_dim: int, hidden: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (U, L) long, lengths (U,) -> (U, 2 * hidden)."""
        packed = pack_padded_sequence(self.embed(chars), lengths, batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n shape: (2, U, hidden)
        return torch.cat([h_n[0], h_n[1]], dim=1)


class TokenEncoder(nn.Module):
    """Word embedding (+ char encoding) -> dropout -> stacked (bi)RNN -> dropout: (B, T, output_dim)."""

    def __init__(self, config: ModelConfig, num_words: int, num_chars: int) -> None:
        super().__init__()
        self.words = nn.Embedding(num_words, config.word_dim, padding_idx=0)
        self.words.weight.requires_grad_(config.fine_tune)
        if config.char_encoder == "cnn":
            self.chars: nn.Module | None = CharCNN(num_chars, config.char_dim, config.char_hidden, config.char_kernel)
        elif config.char_encoder == "lstm":
            self.chars = CharLSTM(num_chars, config.char_dim, config.char_hidden)
        else:
            self.chars = None
        input_dim = config.word_dim + (self.chars.output_dim if self.chars is not None else 0)
        self.dropout = nn.Dropout(config.dropout)
        self.rnn = _CELLS[config.cell](
            input_dim,
            config.hidden,
            num_layers=config.layers,
            bidirectional=config.bidirectional,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.output_dim = config.hidden * (2 if config.bidirectional else 1)

    def forward(self, batch: Batch) -> torch.Tensor:
        x = self.words(batch.words)  # shape: (B, T, word_dim)
        if self.chars is not None:
            per_type = self.chars(batch.chars, batch.char_lengths)  # shape: (U, char_out)
            x = torch.cat([x, per_type[batch.types]], dim=2)
        x = self.dropout(x)
        packed = pack_padded_sequence(x, batch.lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return self.dropout(out)  # shape: (B, T, output_dim)

    def load_pretrained(self, matrix: torch.Tensor) -> None:
        """Copy a (num_words, word_dim) matrix into the word embedding."""
        if matrix.shape != self.words.weight.shape:
            raise ValueError(f"expected matrix of shape {tuple(self.words.weight.shape)}, got {tuple(matrix.shape)}")
        with torch.no_grad():
            self.words.weight.copy_(matrix)
