"""Encoders shared by taggers and classifiers: characters -> word vectors, words -> contextual vectors."""
from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from seqtag.data.batching import Batch
from seqtag.data.casing import NUM_CASES
from seqtag.config import ModelConfig
from seqtag.vectors.compact import rounded

UNKNOWN_WORD = 1  # the word vocabulary's id for words it does not hold (0 is padding)
_CELLS = {"rnn": nn.RNN, "gru": nn.GRU, "lstm": nn.LSTM}
_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


class CharCNN(nn.Module):
    """Ma & Hovy (2016): char embeddings -> 1-D convolution -> max over positions."""

    def __init__(self, num_chars: int, char_dim: int, filters: int, kernel: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.conv = nn.Conv1d(char_dim, filters, kernel, padding=kernel // 2)
        self.output_dim = filters

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (U, L) long, lengths (U,) -> (U, filters)."""
        types = chars.shape[0]
        if not torch.is_grad_enabled():  # prediction: ladder shapes; the padding is masked below
            chars, lengths = ladder_padded(chars, lengths)
        x = self.dropout(self.embed(chars)).transpose(1, 2)  # shape: (U, char_dim, L)
        h = self.conv(x)  # shape: (U, filters, L') with L' = L for odd kernels
        width = h.shape[2]
        pad = torch.arange(width, device=lengths.device).unsqueeze(0) >= lengths.unsqueeze(1)  # shape: (U, L')
        h = h.masked_fill(pad.unsqueeze(1), float("-inf"))
        return h.max(dim=2).values[:types]


class CharLSTM(nn.Module):
    """Lample et al. (2016): a BiLSTM over characters; final states of both directions."""

    def __init__(self, num_chars: int, char_dim: int, hidden: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_chars, char_dim, padding_idx=0)
        self.dropout = nn.Dropout(dropout)
        self.lstm = nn.LSTM(char_dim, hidden, batch_first=True, bidirectional=True)
        self.output_dim = 2 * hidden

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """chars (U, L) long, lengths (U,) -> (U, 2 * hidden)."""
        packed = pack_padded_sequence(self.dropout(self.embed(chars)), lengths.cpu(), batch_first=True, enforce_sorted=False)
        _, (h_n, _) = self.lstm(packed)  # h_n shape: (2, U, hidden)
        return torch.cat([h_n[0], h_n[1]], dim=1)


def reversal_index(lengths: torch.Tensor, width: int) -> torch.Tensor:
    """Index that reverses each row within its own length and leaves padding in place.

    lengths (B,) -> (B, T) long; applying it twice is the identity.
    """
    positions = torch.arange(width, device=lengths.device).unsqueeze(0)  # shape: (1, T)
    last = lengths.unsqueeze(1) - 1  # shape: (B, 1)
    return torch.where(positions <= last, last - positions, positions)


class StackedRNN(nn.Module):
    """Stacked uni- or bidirectional RNN / GRU / LSTM over right-padded batches, without packing.

    Packed sequences force PyTorch's slow step-by-step CPU path; padded input lets oneDNN's fused
    kernels run (about 1.7x faster here, forward + backward). The forward direction never sees padding
    before a real token; the backward direction reads each sentence reversed within its own length, so
    its padding also comes last. Outputs at padded positions are garbage and must be masked by callers.

    Without gradients (prediction), a batch of mixed lengths runs as groups of similar length
    (:func:`length_groups`): an RNN's cost grows with batch x longest length, so one 60-token sentence
    among 31 short ones would otherwise make every row 60 steps long. Training batches are bucketed by
    length already and keep one pass.

    For the plain ``rnn`` cell, ``activation`` is its nonlinearity and ``identity_init`` starts it as an
    IRNN (Le et al., 2015): recurrent weights = identity, biases 0, so at first a (ReLU) state is carried
    over unchanged and its gradient passes back through the recurrence undiminished.
    """

    def __init__(
        self, cell: str, input_dim: int, hidden: int, layers: int, bidirectional: bool, dropout: float,
        activation: str = "tanh", identity_init: bool = False, locked_dropout: bool = False,
    ) -> None:
        super().__init__()
        if cell != "rnn" and (activation != "tanh" or identity_init):
            raise ValueError(f"activation and identity_init are for the rnn cell, got cell={cell!r}")
        directions = 2 if bidirectional else 1
        self.forward_layers = nn.ModuleList()
        self.backward_layers = nn.ModuleList()
        for layer in range(layers):
            size = input_dim if layer == 0 else hidden * directions
            for stack in (self.forward_layers, self.backward_layers)[:directions]:
                stack.append(_recurrent_layer(cell, size, hidden, activation, identity_init))
        # between stacked layers; locked: one mask per sequence, as the encoder's own dropout
        self.dropout = SequenceDropout(dropout) if locked_dropout else nn.Dropout(dropout)
        self.output_dim = hidden * directions

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (B, T, D), lengths (B,) -> (B, T, output_dim)."""
        if torch.is_grad_enabled() or x.shape[0] == 0:
            return self._run(x, lengths)
        out: torch.Tensor | None = None
        for rows, width in length_groups(lengths.tolist()):
            # Each group runs at ladder sizes: the padding changes none of the real rows' outputs.
            index = torch.tensor(rows, device=x.device)
            result = self._run(*ladder_padded(x[index, :width], lengths[index]))[: len(rows), :width]
            if out is None:  # the RNN's dtype, which autocast may lower
                out = result.new_zeros(x.shape[0], x.shape[1], self.output_dim)
            out[index, :width] = result
        assert out is not None  # there is at least one row
        return out

    def _run(self, x: torch.Tensor, lengths: torch.Tensor, layers: int | None = None) -> torch.Tensor:
        """One pass over the whole batch: x (B, T, D), lengths (B,) -> (B, T, output_dim); only the first
        ``layers`` layers when given."""
        reverse = reversal_index(lengths, x.shape[1]).unsqueeze(2) if len(self.backward_layers) else None
        for layer, forward_rnn in enumerate(self.forward_layers[:layers]):
            if layer > 0:
                x = self.dropout(x)  # between stacked layers, as nn.LSTM(dropout=...) does
            out, _ = forward_rnn(x)
            if reverse is not None:
                backward, _ = self.backward_layers[layer](x.gather(1, reverse.expand(-1, -1, x.shape[2])))
                backward = backward.gather(1, reverse.expand(-1, -1, backward.shape[2]))
                out = torch.cat([out, backward], dim=2)
            x = out
        return x

    def in_context(self, x: torch.Tensor, row_lengths: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Rows of left context + sentence + right context: x (B, W, D), row_lengths, starts (the sentence's
        first position in its row) and lengths (the sentence's) all (B,) -> (B, T, output_dim) at the
        sentences' positions, T = the longest sentence. Equal to :meth:`forward` on the rows, read at the
        sentence positions.

        The last layer's forward direction reads each row only up to its sentence's end and its backward
        direction only back to the sentence's start: what lies beyond cannot reach the sentence's outputs,
        so one layer (the default) reads left + sentence one way and sentence + right the other, about a
        third less than whole rows with 16 tokens of context each side. Lower layers read whole rows (the
        next layer reads their outputs in the context)."""
        if not torch.is_grad_enabled():  # prediction: ladder shapes (see shape_step); added rows are 1 token
            rows = x.shape[0]
            x, row_lengths = ladder_padded(x, row_lengths)
            starts, lengths = (torch.cat([v, v.new_full((x.shape[0] - rows,), fill)]) for v, fill in ((starts, 0), (lengths, 1)))
            return self._in_context(x, row_lengths, starts, lengths, ladder=True)[:rows]
        return self._in_context(x, row_lengths, starts, lengths)

    def _in_context(self, x: torch.Tensor, row_lengths: torch.Tensor, starts: torch.Tensor, lengths: torch.Tensor,
                    ladder: bool = False) -> torch.Tensor:
        last = len(self.forward_layers) - 1
        if last > 0:
            x = self.dropout(self._run(x, row_lengths, layers=last))
        width = int(lengths.max())
        steps = torch.arange(width, device=x.device).unsqueeze(0)  # shape: (1, T)

        def steps_of(n: int) -> int:  # how many steps a direction runs
            return min(shape_step(n), x.shape[1]) if ladder else n

        forward_width = steps_of(int((starts + lengths).max()))
        out, _ = self.forward_layers[last](x[:, :forward_width])  # shape: (B, W_f, hidden)
        at = (starts.unsqueeze(1) + steps).clamp(max=forward_width - 1).unsqueeze(2)  # shape: (B, T, 1)
        forward = out.gather(1, at.expand(-1, -1, out.shape[2]))
        if not len(self.backward_layers):
            return forward
        # The backward direction reads row position row_length - 1 - t at step t, for t < row_length - start;
        # later steps read anything (their outputs come after every one used).
        backward_width = steps_of(int((row_lengths - starts).max()))
        read = (row_lengths.unsqueeze(1) - 1 - torch.arange(backward_width, device=x.device)).clamp(min=0)
        out, _ = self.backward_layers[last](x.gather(1, read.unsqueeze(2).expand(-1, -1, x.shape[2])))
        step = (row_lengths.unsqueeze(1) - 1 - starts.unsqueeze(1) - steps).clamp(0, backward_width - 1).unsqueeze(2)
        backward = out.gather(1, step.expand(-1, -1, out.shape[2]))
        return torch.cat([forward, backward], dim=2)


def shape_step(n: int) -> int:
    """The smallest size of the ladder 1, 2, ..., 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, ... (four steps
    per doubling, at most 25 % above ``n``) that is at least ``n``.

    Prediction pads its tensors to these sizes: oneDNN builds a kernel for every tensor shape it meets
    and keeps the last 1,024, so a server or a stream, where every batch has a new shape, would otherwise
    build a kernel on almost every call (a third of the time of a 32-sentence pass) or cache without end.
    With the ladder, a few hundred shapes cover every batch.
    """
    if n <= 8:
        return max(n, 1)
    power = 1 << ((n - 1).bit_length() - 1)  # the largest power of two below n
    return next(size for size in (power * 5 // 4, power * 3 // 2, power * 7 // 4, 2 * power) if size >= n)


def ladder_padded(x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """x (n, w, ...) and lengths (n,) padded to ``(shape_step(n), shape_step(w), ...)`` with zeros: the added
    rows have length 1, and nothing is read after a row's length."""
    rows, width = x.shape[:2]
    padded = x.new_zeros(shape_step(rows), shape_step(width), *x.shape[2:])
    padded[:rows, :width] = x
    padded_lengths = lengths.new_ones(padded.shape[0])
    padded_lengths[:rows] = lengths
    return padded, padded_lengths


# The cost of one RNN call over n rows of width w, in token-steps: a fixed part (the call, the gathers)
# plus one step per position plus one token-step per row and position; measured on CPU (2 threads,
# hidden 200): 0.27 ms per call, 6 us per step, 2.9 us per token-step.
_CALL_COST = 90
_STEP_COST = 2


def length_groups(lengths: list[int], call_cost: float = _CALL_COST, step_cost: float = _STEP_COST) -> list[tuple[list[int], int]]:
    """Rows grouped by length so that running each group at its own width costs least.

    ``lengths`` (B,) -> ``[(rows, width), ...]``: every row index once, ``width`` = the group's longest
    length; the cost of a group of n rows is ``call_cost + width * (step_cost + n)``. Groups are runs of
    the sorted lengths (an optimal grouping never interleaves them), found by dynamic programming over
    the distinct lengths.
    """
    distinct = sorted(set(lengths))
    count = {n: 0 for n in distinct}
    for n in lengths:
        count[n] += 1
    # best[j]: cheapest cost of the j shortest distinct lengths; cut[j]: where its last group starts
    best = [0.0] + [float("inf")] * len(distinct)
    cut = [0] * (len(distinct) + 1)
    for j in range(1, len(distinct) + 1):
        width, rows = distinct[j - 1], 0
        for i in range(j, 0, -1):
            rows += count[distinct[i - 1]]
            cost = best[i - 1] + call_cost + width * (step_cost + rows)
            if cost < best[j]:
                best[j], cut[j] = cost, i - 1
    bounds = []
    j = len(distinct)
    while j > 0:
        bounds.append((cut[j], j))
        j = cut[j]
    groups = []
    for start, end in reversed(bounds):
        members = set(distinct[start:end])
        groups.append(([row for row, n in enumerate(lengths) if n in members], distinct[end - 1]))
    return groups


def _recurrent_layer(cell: str, input_dim: int, hidden: int, activation: str, identity_init: bool) -> nn.RNNBase:
    """One unidirectional single-layer RNN / GRU / LSTM (batch first)."""
    if cell != "rnn":
        return _CELLS[cell](input_dim, hidden, batch_first=True)
    layer = nn.RNN(input_dim, hidden, batch_first=True, nonlinearity=activation)
    if identity_init:
        with torch.no_grad():
            layer.weight_hh_l0.copy_(torch.eye(hidden))
            # nn.RNN's two biases add up to the paper's single one, which starts at 0.
            layer.bias_hh_l0.zero_()
            layer.bias_ih_l0.zero_()
    return layer


class WindowMLP(nn.Module):
    """The pre-RNN tagger's encoder (Collobert et al., 2011): each token sees the concatenated vectors of
    the ``window`` tokens on either side of it, through ``layers`` feed-forward hidden layers.

    Positions outside the sentence, beyond its edges or on batch padding, all read one learned edge
    vector (zeros at first), so a token's output never depends on other sentences in the batch.
    """

    def __init__(self, input_dim: int, window: int, hidden: int, layers: int, activation: str, dropout: float) -> None:
        super().__init__()
        self.window = window
        self.edge = nn.Parameter(torch.zeros(input_dim))
        stack: list[nn.Module] = []
        for layer in range(layers):
            if layer > 0:
                stack.append(nn.Dropout(dropout))
            stack += [nn.Linear((2 * window + 1) * input_dim if layer == 0 else hidden, hidden), _ACTIVATIONS[activation]()]
        self.layers = nn.Sequential(*stack)
        self.output_dim = hidden

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """x (B, T, D), lengths (B,) -> (B, T, hidden); outputs at padded positions must be masked by callers."""
        batch, width, dim = x.shape
        inside = torch.arange(width, device=lengths.device).unsqueeze(0) < lengths.unsqueeze(1)  # shape: (B, T)
        x = torch.where(inside.unsqueeze(2), x, self.edge)
        margin = self.edge.expand(batch, self.window, dim)
        x = torch.cat([margin, x, margin], dim=1)  # shape: (B, T + 2 * window, D)
        # unfold gives (B, T, D, 2 * window + 1); the flat vector lists the window's tokens left to right.
        windows = x.unfold(1, 2 * self.window + 1, 1).transpose(2, 3).reshape(batch, width, -1)
        return self.layers(windows)  # shape: (B, T, hidden)


class SequenceDropout(nn.Module):
    """Variational dropout: one mask per sequence, shared by all its positions. x (B, T, D) -> (B, T, D)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        keep = torch.empty(x.shape[0], 1, x.shape[2], device=x.device, dtype=x.dtype).bernoulli_(1 - self.p)
        return x * keep / (1 - self.p)


class TokenEncoder(nn.Module):
    """Word embedding (+ char encoding) -> dropout -> stacked (bi)RNN or window MLP -> dropout: (B, T, output_dim).

    Word ids below ``trainable_words`` (the training vocabulary) index a trainable table; higher ids
    (pretrained rows kept for words unseen in training) index a frozen buffer. Those rows would never
    receive a gradient anyway; keeping them out of the optimiser saves most of an Adam step.
    """

    def __init__(self, config: ModelConfig, num_words: int, num_chars: int, trainable_words: int | None = None) -> None:
        super().__init__()
        trainable_words = num_words if trainable_words is None else trainable_words
        self.words = nn.Embedding(trainable_words, config.word_dim, padding_idx=0)
        self.words.weight.requires_grad_(config.fine_tune)
        self.register_buffer("extra_words", torch.zeros(num_words - trainable_words, config.word_dim))
        if config.char_encoder == "cnn":
            self.chars: nn.Module | None = CharCNN(
                num_chars, config.char_dim, config.char_hidden, config.char_kernel, config.char_dropout,
            )
        elif config.char_encoder == "lstm":
            self.chars = CharLSTM(num_chars, config.char_dim, config.char_hidden, config.char_dropout)
        else:
            self.chars = None
        self.cases = nn.Embedding(NUM_CASES, config.casing_dim, padding_idx=0) if config.casing_dim else None
        input_dim = config.word_dim + (self.chars.output_dim if self.chars is not None else 0) + config.casing_dim
        self.dropout = SequenceDropout(config.dropout) if config.locked_dropout else nn.Dropout(config.dropout)
        self.word_dropout = config.word_dropout
        self.rnn: StackedRNN | None = None
        self.window: WindowMLP | None = None
        if config.encoder == "window":
            self.window = WindowMLP(input_dim, config.window, config.hidden, config.layers, config.activation, config.dropout)
            self.output_dim = self.window.output_dim
        else:
            self.rnn = StackedRNN(
                config.cell, input_dim, config.hidden, config.layers, config.bidirectional, config.dropout,
                config.activation, config.identity_init, config.locked_dropout,
            )
            self.output_dim = self.rnn.output_dim

    def embed_words(self, ids: torch.Tensor) -> torch.Tensor:
        """ids (B, T) long -> (B, T, word_dim); while training, ``word_dropout`` of the real tokens read the
        unknown word's row (id 1) instead of their own."""
        if self.training and self.word_dropout > 0:
            dropped = torch.rand(ids.shape, device=ids.device) < self.word_dropout
            ids = ids.masked_fill(dropped & (ids != 0), UNKNOWN_WORD)
        trainable = self.words.num_embeddings
        if self.extra_words.shape[0] == 0:
            return self.words(ids)
        known = ids < trainable
        x = self.words(ids.masked_fill(~known, 0))
        extra = nn.functional.embedding(ids.masked_fill(known, trainable) - trainable, self.extra_words)
        return torch.where(known.unsqueeze(2), x, extra)

    def token_vectors(self, batch: Batch) -> torch.Tensor:
        """The context layers' input: word (+ char) vectors, before dropout; (B, T, input_dim)."""
        x = self.embed_words(batch.words)  # shape: (B, T, word_dim)
        if self.chars is not None:
            per_type = self.chars(batch.chars, batch.char_lengths)  # shape: (U, char_out)
            x = torch.cat([x, per_type[batch.types]], dim=2)
        if self.cases is not None:
            if batch.cases is None:
                raise ValueError("expected a batch with casing classes (Collator(casing=True)), got cases=None")
            x = torch.cat([x, self.cases(batch.cases)], dim=2)
        return x

    def forward(self, batch: Batch) -> torch.Tensor:
        """The sentences' contextual vectors, (B, T, output_dim). With document context the rows hold the
        neighbouring tokens too (B, W): the context layers read them (StackedRNN.in_context) and only the
        sentences' own positions are returned."""
        x = self.dropout(self.token_vectors(batch))
        if batch.starts is None:
            out = (self.rnn if self.rnn is not None else self.window)(x, batch.lengths)
        elif self.rnn is not None:
            out = self.rnn.in_context(x, batch.row_lengths, batch.starts, batch.lengths)
        else:  # the window encoder reads whole rows; keep the sentence positions
            rows = self.window(x, batch.row_lengths)  # shape: (B, W, output_dim)
            # shape: (B, T): the row position of each sentence position (past a sentence's end: any valid one)
            index = (batch.starts.unsqueeze(1) + torch.arange(batch.mask.shape[1], device=rows.device)).clamp(max=rows.shape[1] - 1)
            out = rows.gather(1, index.unsqueeze(2).expand(-1, -1, rows.shape[2]))
        return self.dropout(out)  # shape: (B, T, output_dim)

    def load_pretrained(self, matrix: torch.Tensor) -> None:
        """Copy a (num_words, word_dim) matrix into the trainable table and the frozen rows."""
        trainable = self.words.num_embeddings
        expected = (trainable + self.extra_words.shape[0], self.words.embedding_dim)
        if tuple(matrix.shape) != expected:
            raise ValueError(f"expected matrix of shape {expected}, got {tuple(matrix.shape)}")
        with torch.no_grad():
            self.words.weight.copy_(matrix[:trainable])
            # The frozen rows are stored at ~5 bits per value in the model file (seqtag.vectors.compact);
            # rounding them now means the saved model predicts exactly like the trained one.
            self.extra_words.copy_(rounded(matrix[trainable:]))
