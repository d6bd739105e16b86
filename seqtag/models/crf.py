"""A batch-first linear-chain conditional random field.

Scores of a tag sequence ``y`` of length ``L`` given emissions ``e``::

    start[y_0] + sum_t e[t, y_t] + sum_{t>0} transitions[y_{t-1}, y_t] + end[y_{L-1}]

Every method is vectorised over the batch and the tags; only time steps are looped over. Computation
happens in the emissions' dtype, so float64 emissions give float64 results.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

# Added (not substituted) to disallowed scores: large enough that disallowed paths get ~zero probability
# and are never decoded while some allowed path exists, yet finite so gradients and arithmetic stay clean.
_DISALLOWED = -10000.0

_REDUCTIONS = ("none", "sum", "mean", "token_mean")


class LinearChainCRF(nn.Module):
    """Linear-chain CRF over ``num_tags`` tags.

    Args:
        num_tags: Number of tags.
        constraints: ``None`` to allow every transition, or a list of ALLOWED ``(from, to)`` pairs in
            AllenNLP's convention (as produced by ``allennlp.modules.conditional_random_field.
            allowed_transitions``): indices ``0..num_tags-1`` are tags, ``num_tags`` is START and
            ``num_tags + 1`` is END, so ``(num_tags, j)`` allows starting with tag ``j`` and
            ``(i, num_tags + 1)`` allows ending with tag ``i``. Pairs into START or out of END carry no
            score and are ignored.

    Attributes:
        transitions: Transition scores from tag ``i`` to tag ``j``, shape ``(num_tags, num_tags)``.
        start_transitions: Scores of starting with each tag, shape ``(num_tags,)``.
        end_transitions: Scores of ending with each tag, shape ``(num_tags,)``.
        allowed_transitions / allowed_start / allowed_end: Bool buffers of the same shapes; saved in the
            state dict so a reloaded model keeps its constraints.
    """

    def __init__(self, num_tags: int, constraints: list[tuple[int, int]] | None = None) -> None:
        if num_tags <= 0:
            raise ValueError(f"expected num_tags > 0, got {num_tags}")
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.empty(num_tags, num_tags))
        self.start_transitions = nn.Parameter(torch.empty(num_tags))
        self.end_transitions = nn.Parameter(torch.empty(num_tags))

        # Extended (num_tags + 2)^2 table indexed like the constraints, then sliced into the three masks.
        allowed = torch.ones(num_tags + 2, num_tags + 2, dtype=torch.bool)
        if constraints is not None:
            allowed.fill_(False)
            for pair in constraints:
                i, j = pair
                if not (0 <= i < num_tags + 2 and 0 <= j < num_tags + 2):
                    raise ValueError(
                        f"expected constraint indices in [0, {num_tags + 2}), got {tuple(pair)}"
                    )
                allowed[i, j] = True
        start, end = num_tags, num_tags + 1
        self.register_buffer("allowed_transitions", allowed[:num_tags, :num_tags].clone())
        self.register_buffer("allowed_start", allowed[start, :num_tags].clone())
        self.register_buffer("allowed_end", allowed[:num_tags, end].clone())
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.uniform_(self.transitions, -0.1, 0.1)
        nn.init.uniform_(self.start_transitions, -0.1, 0.1)
        nn.init.uniform_(self.end_transitions, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    # ------------------------------------------------------------------ public API

    def forward(self, emissions: Tensor, tags: Tensor, mask: Tensor, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood loss.

        Args:
            emissions: Emission scores, shape ``(batch_size, seq_length, num_tags)``.
            tags: Gold tags, shape ``(batch_size, seq_length)``, dtype long (padding values are ignored).
            mask: Real-token mask, shape ``(batch_size, seq_length)``, dtype bool.
            reduction: ``none`` (shape ``(batch_size,)``), ``sum``, ``mean`` (over sequences) or
                ``token_mean`` (sum divided by the number of real tokens).

        Returns:
            The loss, shape ``(batch_size,)`` for ``none``, scalar otherwise.
        """
        if reduction not in _REDUCTIONS:
            raise ValueError(f"expected reduction in {_REDUCTIONS}, got {reduction!r}")
        nll = -self.log_likelihood(emissions, tags, mask)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        if reduction == "mean":
            return nll.mean()
        return nll.sum() / mask.sum()

    def log_likelihood(self, emissions: Tensor, tags: Tensor, mask: Tensor) -> Tensor:
        """``log p(tags | emissions)`` per sequence, shape ``(batch_size,)``.

        Args: as for :meth:`forward`.
        """
        self._validate(emissions, mask, tags)
        start, trans, end = self._scores(emissions.dtype)
        score = self._path_score(emissions, tags, mask, start, trans, end)
        log_z = torch.logsumexp(self._alphas(emissions, mask, start, trans)[-1] + end, dim=1)
        return score - log_z

    def log_partition(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Log of the sum of exp-scores over all tag sequences, shape ``(batch_size,)``.

        Args:
            emissions: shape ``(batch_size, seq_length, num_tags)``.
            mask: shape ``(batch_size, seq_length)``, dtype bool.
        """
        self._validate(emissions, mask)
        start, trans, end = self._scores(emissions.dtype)
        return torch.logsumexp(self._alphas(emissions, mask, start, trans)[-1] + end, dim=1)

    def decode(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
        """Viterbi decoding.

        Args:
            emissions: shape ``(batch_size, seq_length, num_tags)``.
            mask: shape ``(batch_size, seq_length)``, dtype bool.

        Returns:
            The best paths, shape ``(batch_size, seq_length)``, dtype long, 0 beyond each length, and
            their scores, shape ``(batch_size,)``.
        """
        paths, scores = self.nbest(emissions, mask, 1)
        return paths[:, 0], scores[:, 0]

    def nbest(self, emissions: Tensor, mask: Tensor, k: int) -> tuple[Tensor, Tensor]:
        """k-best Viterbi decoding, best first.

        Args:
            emissions: shape ``(batch_size, seq_length, num_tags)``.
            mask: shape ``(batch_size, seq_length)``, dtype bool.
            k: Number of paths per sequence.

        Returns:
            Paths, shape ``(batch_size, k, seq_length)``, dtype long, 0 beyond each length, and their
            scores, shape ``(batch_size, k)``. When a sequence has fewer than ``k`` paths the extra entries
            score ``-inf`` and are all 0. Under constraints, disallowed paths rank after every allowed
            one with scores lowered by 10000 per violation.
        """
        if k < 1:
            raise ValueError(f"expected k >= 1, got {k}")
        self._validate(emissions, mask)
        start, trans, end = self._scores(emissions.dtype)
        batch_size, seq_length, num_tags = emissions.shape

        # Beam entries are flattened as tag * k + rank; rank 0 is the only live one at the first token.
        # shape: (batch_size, num_tags, k)
        score = emissions.new_full((batch_size, num_tags, k), float("-inf"))
        score[:, :, 0] = start + emissions[:, 0]
        # shape: (num_tags_to, num_tags_from, 1)
        trans_to_from = trans.t().unsqueeze(2)
        history = []
        for t in range(1, seq_length):
            # shape: (batch_size, num_tags_to, num_tags_from * k)
            candidates = (score.unsqueeze(1) + trans_to_from).reshape(batch_size, num_tags, num_tags * k)
            # shape: (batch_size, num_tags, k) each; max is about twice as fast as topk for plain Viterbi
            if k == 1:
                best, backpointer = candidates.max(dim=2, keepdim=True)
            else:
                best, backpointer = candidates.topk(k, dim=2)
            score = torch.where(mask[:, t, None, None], best + emissions[:, t, :, None], score)
            # shape: (batch_size, num_tags * k)
            history.append(backpointer.reshape(batch_size, num_tags * k))

        # shape: (batch_size, k) each
        best_scores, best_last = (score + end[:, None]).reshape(batch_size, num_tags * k).topk(k, dim=1)

        if k == 1:
            return self._backtrace_one(history, best_last, best_scores, mask), best_scores

        # Each sequence starts its backtrace at its own last token; entries past it are garbage but valid
        # indices, and are zeroed at the end.
        last = mask.sum(dim=1) - 1
        paths = torch.zeros(batch_size, k, seq_length, dtype=torch.long, device=emissions.device)
        state = best_last
        paths[:, :, -1] = state // k
        for t in range(seq_length - 2, -1, -1):
            state = torch.where((last == t)[:, None], best_last, history[t].gather(1, state))
            paths[:, :, t] = state // k
        dead = ~mask[:, None, :] | best_scores.isneginf()[:, :, None]
        return paths.masked_fill_(dead, 0), best_scores

    @staticmethod
    def _backtrace_one(history: list[Tensor], best_last: Tensor, best_scores: Tensor, mask: Tensor) -> Tensor:
        """The best path of each sequence, shape ``(batch_size, 1, seq_length)``, from the backpointers
        ``history[t]`` (shape ``(batch_size, num_tags)``: the best tag at ``t`` before each tag at ``t + 1``).

        Followed in Python lists: one ``tolist`` instead of four tensor operations per position, which
        dominated the decoding of the short batches a server runs.
        """
        batch_size, seq_length = mask.shape
        steps = torch.stack(history, dim=1).tolist() if history else [[] for _ in range(batch_size)]
        rows = []
        for row_steps, length, state, score in zip(steps, mask.sum(dim=1).tolist(), best_last[:, 0].tolist(),
                                                   best_scores[:, 0].tolist()):
            path = [0] * seq_length
            if score != float("-inf"):
                path[length - 1] = state
                for t in range(length - 2, -1, -1):
                    state = row_steps[t][state]
                    path[t] = state
            rows.append(path)
        return torch.tensor(rows, dtype=torch.long, device=mask.device).unsqueeze(1)

    def marginals(self, emissions: Tensor, mask: Tensor) -> Tensor:
        """Posterior marginals ``p(y_t = j | emissions)`` by forward-backward.

        Args:
            emissions: shape ``(batch_size, seq_length, num_tags)``.
            mask: shape ``(batch_size, seq_length)``, dtype bool.

        Returns:
            shape ``(batch_size, seq_length, num_tags)``; rows sum to 1 on real tokens, 0 on padding.
        """
        self._validate(emissions, mask)
        alphas, betas, log_z = self._forward_backward(emissions, mask)
        log_marginals = alphas + betas - log_z[:, None, None]
        return log_marginals.exp().masked_fill(~mask.unsqueeze(2), 0.0)

    def segment_marginals(
        self, emissions: Tensor, mask: Tensor, tags: Tensor, segments: Tensor, stop_tags: Tensor
    ) -> Tensor:
        """Posterior probability that a segment carries given tags and is not continued by a given tag.

        For segment ``n = (b, s, e)``: ``p(y[s:e] = tags[b, s:e] and y[e] != stop_tags[n] | emissions[b])``.
        The second condition is dropped when ``stop_tags[n] < 0`` or ``e`` is the sequence's length.
        A tagger gets the exact probability of a predicted entity this way: in IOB2 a chunk ``B-X I-X``
        is the entity ``X`` over those tokens only if no ``I-X`` follows.

        Args:
            emissions: shape ``(batch_size, seq_length, num_tags)``.
            mask: shape ``(batch_size, seq_length)``, dtype bool.
            tags: shape ``(batch_size, seq_length)``, dtype long (values outside segments are ignored
                but must be valid tag indices).
            segments: shape ``(num_segments, 3)``, dtype long: sequence index, start, end (exclusive).
            stop_tags: shape ``(num_segments,)``, dtype long.

        Returns:
            shape ``(num_segments,)``.
        """
        self._validate(emissions, mask, tags)
        _, trans, _ = self._scores(emissions.dtype)
        alphas, betas, log_z = self._forward_backward(emissions, mask)
        b, s, e = segments.unbind(1)
        last = e - 1
        # Score of the path from its first to its last token, as a difference of prefix sums.
        # shape: (batch_size, seq_length)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        steps = torch.cat([emitted.new_zeros(len(tags), 1), trans[tags[:, :-1], tags[:, 1:]] + emitted[:, 1:]], dim=1)
        prefix = steps.cumsum(dim=1)
        # shape: (num_segments,) each
        first_tag, last_tag = tags[b, s], tags[b, last]
        log_segment = alphas[b, s, first_tag] + prefix[b, last] - prefix[b, s] + betas[b, last, last_tag] - log_z[b]
        # log p(y[e] = stop | the segment): the paths from the last tag on that pass through ``stop`` at ``e``,
        # over all paths from the last tag on (beta). Where there is no next token, any valid index will do
        # for ``after``: ``continued`` masks the result.
        stop = stop_tags.clamp(min=0)
        after = e % emissions.size(1)
        log_continue = trans[last_tag, stop] + emissions[b, after, stop] + betas[b, after, stop] - betas[b, last, last_tag]
        continued = (stop_tags >= 0) & (e < mask.sum(dim=1)[b])
        # 1 - p(continue) via expm1: exact when the continuation is unlikely, the usual case.
        keep = torch.where(continued, -torch.expm1(log_continue.clamp(max=0.0)), 1.0)
        return log_segment.exp() * keep

    def labelled_segment_marginals(
        self, emissions: Tensor, mask: Tensor, segments: Tensor, segment_tags: Tensor, stop_tags: Tensor
    ) -> Tensor:
        """As :meth:`segment_marginals`, but every segment carries its own tags, so segments of one sequence
        may overlap and disagree (the candidate spans of ``predict --min-confidence``).

        For segment ``n = (b, s, e)``: ``p(y[s:e] = segment_tags[n, :e - s] and y[e] != stop_tags[n] | emissions[b])``;
        the second condition is dropped when ``stop_tags[n] < 0`` or ``e`` is the sequence's length.

        Args:
            emissions, mask: as for :meth:`marginals`.
            segments: shape ``(num_segments, 3)``, dtype long: sequence index, start, end (exclusive), ``e > s``.
            segment_tags: shape ``(num_segments, width)``, dtype long, ``width >= e - s``; entries past a
                segment's length are ignored (any valid tag index).
            stop_tags: shape ``(num_segments,)``, dtype long.

        Returns:
            shape ``(num_segments,)``.
        """
        self._validate(emissions, mask)
        _, trans, _ = self._scores(emissions.dtype)
        alphas, betas, log_z = self._forward_backward(emissions, mask)
        b, s, e = segments.unbind(1)
        length = e - s
        width = segment_tags.size(1)
        # shape: (num_segments, width)
        offsets = torch.arange(width, device=emissions.device).unsqueeze(0)
        inside = offsets < length.unsqueeze(1)
        positions = (s.unsqueeze(1) + offsets).clamp(max=emissions.size(1) - 1)
        tags = segment_tags.masked_fill(~inside, 0)
        emitted = emissions[b.unsqueeze(1), positions, tags]
        # shape: (num_segments, width - 1): transition into each later tag of the segment, plus its emission
        steps = trans[tags[:, :-1], tags[:, 1:]] + emitted[:, 1:]
        inner = torch.where(inside[:, 1:], steps, torch.zeros_like(steps)).sum(dim=1)
        first_tag = tags[:, 0]
        last = e - 1
        last_tag = tags.gather(1, (length - 1).unsqueeze(1)).squeeze(1)
        log_segment = alphas[b, s, first_tag] + inner + betas[b, last, last_tag] - log_z[b]
        stop = stop_tags.clamp(min=0)
        after = e % emissions.size(1)
        log_continue = trans[last_tag, stop] + emissions[b, after, stop] + betas[b, after, stop] - betas[b, last, last_tag]
        continued = (stop_tags >= 0) & (e < mask.sum(dim=1)[b])
        keep = torch.where(continued, -torch.expm1(log_continue.clamp(max=0.0)), torch.ones_like(log_continue))
        return log_segment.exp() * keep

    # ------------------------------------------------------------------ internals

    def _validate(self, emissions: Tensor, mask: Tensor, tags: Tensor | None = None) -> None:
        if emissions.dim() != 3 or emissions.size(2) != self.num_tags:
            raise ValueError(
                f"expected emissions of shape (batch_size, seq_length, {self.num_tags}), "
                f"got {tuple(emissions.shape)}"
            )
        if not emissions.is_floating_point():
            raise ValueError(f"expected floating-point emissions, got {emissions.dtype}")
        if emissions.size(1) == 0:
            raise ValueError("expected seq_length >= 1, got 0")
        shape = tuple(emissions.shape[:2])
        if mask.dtype != torch.bool:
            raise ValueError(f"expected mask of dtype torch.bool, got {mask.dtype}")
        if tuple(mask.shape) != shape:
            raise ValueError(f"expected mask of shape {shape}, got {tuple(mask.shape)}")
        if tags is not None:
            if tags.dtype != torch.long:
                raise ValueError(f"expected tags of dtype torch.int64, got {tags.dtype}")
            if tuple(tags.shape) != shape:
                raise ValueError(f"expected tags of shape {shape}, got {tuple(tags.shape)}")
            real = tags[mask]
            if real.numel() and (real.min() < 0 or real.max() >= self.num_tags):
                raise ValueError(
                    f"expected tags in [0, {self.num_tags}) on real tokens, "
                    f"got values in [{real.min().item()}, {real.max().item()}]"
                )
        if not mask[:, 0].all():
            empty = (~mask[:, 0]).nonzero().flatten().tolist()
            raise ValueError(f"expected mask[:, 0] to be all True, got False for sequences {empty}")
        if (mask[:, 1:] & ~mask[:, :-1]).any():
            raise ValueError("expected each mask row to be a prefix of True values, got True after False")

    def _scores(self, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """Start ``(K,)``, transition ``(K, K)`` and end ``(K,)`` scores in ``dtype``, constraints applied."""

        def penalised(score: Tensor, allowed: Tensor) -> Tensor:
            score = score.to(dtype)
            return torch.where(allowed, score, score + _DISALLOWED)

        return (
            penalised(self.start_transitions, self.allowed_start),
            penalised(self.transitions, self.allowed_transitions),
            penalised(self.end_transitions, self.allowed_end),
        )

    @staticmethod
    def _path_score(
        emissions: Tensor, tags: Tensor, mask: Tensor, start: Tensor, trans: Tensor, end: Tensor
    ) -> Tensor:
        """Score of the given tag sequences, shape ``(batch_size,)``."""
        # Padding may hold any value (e.g. -100); make it a valid index, its terms are masked out anyway.
        tags = tags.masked_fill(~mask, 0)
        # shape: (batch_size, seq_length)
        emitted = emissions.gather(2, tags.unsqueeze(2)).squeeze(2)
        # shape: (batch_size, seq_length - 1)
        steps = trans[tags[:, :-1], tags[:, 1:]] + emitted[:, 1:]
        # shape: (batch_size,)
        last_tags = tags.gather(1, (mask.sum(dim=1) - 1).unsqueeze(1)).squeeze(1)
        inner = torch.where(mask[:, 1:], steps, 0.0).sum(dim=1)
        return start[tags[:, 0]] + emitted[:, 0] + inner + end[last_tags]

    def _forward_backward(self, emissions: Tensor, mask: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Forward and backward log-scores, each ``(batch_size, seq_length, num_tags)``, and ``log Z``,
        ``(batch_size,)``: ``alphas + betas - log_z`` are the log marginals on real tokens."""
        start, trans, end = self._scores(emissions.dtype)
        alphas = self._alphas(emissions, mask, start, trans)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)

        # beta_t[i]: log-sum of scores from tag i at t to the end (emission at t excluded). Padding
        # carries the value back unchanged, so the last real token of every sequence sees ``end``.
        # shape: (batch_size, num_tags)
        beta = end.expand_as(alphas[0])
        betas = [beta]
        for t in range(emissions.size(1) - 1, 0, -1):
            step = torch.logsumexp(trans + (emissions[:, t] + beta).unsqueeze(1), dim=2)
            beta = torch.where(mask[:, t, None], step, beta)
            betas.append(beta)
        betas.reverse()
        return torch.stack(alphas, dim=1), torch.stack(betas, dim=1), log_z

    @staticmethod
    def _alphas(emissions: Tensor, mask: Tensor, start: Tensor, trans: Tensor) -> list[Tensor]:
        """Forward variables per position, each ``(batch_size, num_tags)``.

        ``alphas[t][b, j]`` is the log-sum of scores of all prefixes ending in tag ``j`` at ``t``; padding
        carries the last real value forward so ``alphas[-1]`` is final for every sequence.
        """
        alpha = start + emissions[:, 0]
        alphas = [alpha]
        for t in range(1, emissions.size(1)):
            # shape: (batch_size, num_tags_from, num_tags_to) -> (batch_size, num_tags_to)
            step = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)
            alphas.append(alpha)
        return alphas
