"""The sequence tagger as users see it: vocabularies + network + tag schemes, trainable, savable, callable.

>>> tagger = Tagger.load("model.seqtag")
>>> tagger.predict([["John", "lives", "in", "Berlin", "."]])
[['B-PER', 'O', 'O', 'B-LOC', 'O']]
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from seqtag.config import DataConfig, ModelConfig
from seqtag.data.batching import Batch
from seqtag.data.context import contexts_of, has_documents, model_input, with_context
from seqtag.data.records import Doc, Span
from seqtag.data.schemes import allowed_transitions, convert, detect_scheme, is_valid, spans
from seqtag.data.sentence import Sentence
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.errors import InputError
from seqtag.formats.registry import read_sentences
from seqtag.models.crf import LinearChainCRF
from seqtag.models.tagger import TaggerNet
from seqtag.tasks.base import NEW_LABEL_MARGIN, PREDICT_BATCH, Model, TrainingData, as_text, check_token_lists


@dataclass
class TagDetails:
    """One sentence's prediction with the extras of :meth:`Tagger.predict_details`, in the data's scheme."""

    tags: list[str]  # the best (Viterbi) tags, as :meth:`Tagger.predict` gives them
    # p(the token lies in an entity of its predicted type), or p(outside every entity) for O; plain tags: p(tag)
    token_probs: list[float] | None = None
    span_probs: list[float] | None = None  # one per entity of ``spans(tags)``, in order: p(exactly that entity)
    nbest: list[tuple[list[str], float]] | None = None  # (tags, probability), most probable first
    # with a min_confidence: every entity (type, token_start, token_end, probability, on the best path) whose
    # probability is at least that, on the best path or not, overlapping or not; by start, most probable first
    candidates: list[tuple[str, int, int, float, bool]] | None = None


# why a file read for a tagger must hold tagging data, for the format registry's error message
_FOR_TAGGING = "the training data is for tagging"


class Tagger(Model):
    """A sequence tagger; predictions come back in the tag scheme of its training files."""

    task = "tag"

    def __init__(self, *args: Any, data_scheme: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.data_scheme = data_scheme  # scheme of the training files; predictions are written in it
        self.model_scheme = "plain" if data_scheme == "plain" else self.model_config.train_scheme

    def __call__(self, text: str | Sequence[str], confidence: bool = False) -> Doc:
        """Tag one text (tokenized by syntok and split into sentences) or one list of tokens.
        ``confidence``: each span's probability and each token's (``Doc.tag_probs``)."""
        return next(self.pipe([text], confidence=confidence))

    def pipe(self, texts: Iterable[str | Sequence[str]], batch_size: int = PREDICT_BATCH, confidence: bool = False,
             chunk: int = 1024) -> Iterator[Doc]:
        """A :class:`~seqtag.data.records.Doc` per text (or token list), in order, ``chunk`` texts at a time."""
        iterator = iter(texts)
        while block := list(islice(iterator, chunk)):
            split = [_sentences(item) for item in block]
            size = self.model_config.document_context  # a text's sentences are one document
            sentences = [s for _, pieces in split for s in contexts_of([tokens for tokens, _ in pieces], size)]
            if confidence:
                details = self.predict_details(sentences, batch_size, confidence=True)
            else:
                details = [TagDetails(tags) for tags in self.predict(sentences, batch_size)]
            at = 0
            for text, pieces in split:
                yield self._doc(text, pieces, details[at : at + len(pieces)])
                at += len(pieces)

    def _doc(self, text: str, pieces: list[tuple[list[str], list[tuple[int, int]]]], details: list[TagDetails]) -> Doc:
        tokens, offsets, tags, found, sentences = [], [], [], [], []
        probs: list[float] | None = [] if all(d.token_probs is not None for d in details) else None
        for (words, places), detail in zip(pieces, details):
            base = len(tokens)
            sentences.append((base, base + len(words)))
            found += [
                Span(text[places[start][0] : places[end - 1][1]], kind, places[start][0], places[end - 1][1],
                     base + start, base + end, detail.span_probs[i] if detail.span_probs is not None else None)
                for i, (kind, start, end) in enumerate(spans(detail.tags, self.data_scheme) if self.data_scheme != "plain" else [])
            ]
            tokens += words
            offsets += places
            tags += detail.tags
            if probs is not None:
                probs += detail.token_probs or []
        return Doc(text, tokens, offsets, tags, found, sentences, probs)

    def predict(self, sentences: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[list[str]]:
        """Tags for each token list, in the training data's scheme; empty lists give empty lists."""
        check_token_lists(sentences)
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        out: list[list[str]] = [[] for _ in sentences]
        items = self.labels.items
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                paths = self.net.decode(self.collate([sentences[i] for i in chunk]))
                for i, path in zip(chunk, paths):
                    tags = [items[t] for t in path]
                    if self.model_scheme != self.data_scheme:
                        tags = convert(tags, self.model_scheme, self.data_scheme)
                    out[i] = tags
        return out

    predict_chunk = predict

    def predict_details(
        self, sentences: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH, confidence: bool = False, nbest: int = 0,
        min_confidence: float | None = None,
    ) -> list[TagDetails]:
        """The best tags per token list plus, on request, posterior confidences, the ``nbest`` best tag
        sequences with their probabilities, and every entity whose probability is at least ``min_confidence``
        (:attr:`TagDetails.candidates`). Probabilities come from the CRF (forward-backward, k-best Viterbi); a
        softmax head's per-token distributions are treated as a CRF with zero transition scores, under which
        the same computations give products of softmax probabilities."""
        check_token_lists(sentences)
        if min_confidence is not None:
            self.check_min_confidence(min_confidence)
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        out = [
            TagDetails([], [] if confidence else None, [] if confidence else None, [] if nbest else None,
                       [] if min_confidence is not None else None)
            for _ in sentences
        ]
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self.collate([sentences[i] for i in chunk])
                crf, emissions = self._distribution(batch)
                # shape: (B, k, T), (B, k)
                paths, scores = crf.nbest(emissions, batch.mask, max(nbest, 1))
                lengths = batch.lengths.tolist()
                best = [row[:n] for row, n in zip(paths[:, 0].tolist(), lengths)]
                for i, path in zip(chunk, best):
                    out[i].tags = self._data_tags(path)
                if min_confidence is not None:
                    found = self._spans_above(crf, emissions, batch.mask, best, min_confidence)
                    for i, spans_of in zip(chunk, found):
                        out[i].candidates = spans_of
                if confidence:
                    token_probs, span_probs = self._confidences(crf, emissions, batch.mask, paths[:, 0], best)
                    for i, tokens, entities in zip(chunk, token_probs, span_probs):
                        out[i].token_probs, out[i].span_probs = tokens, entities
                if nbest:
                    # shape: (B, k)
                    probs = (scores - crf.log_partition(emissions, batch.mask)[:, None]).exp()
                    for i, rows, row_scores, row_probs, n in zip(
                        chunk, paths.tolist(), scores.tolist(), probs.tolist(), lengths
                    ):
                        # Unconstrained (softmax) paths such as B-X E-X and B-X I-X can read as the same
                        # tags in the data's scheme: one entry each, with the probabilities added.
                        merged: dict[tuple[str, ...], float] = {}
                        for row, score, p in zip(rows, row_scores, row_probs):
                            if self._possible(row[:n], score, constrained=crf is self.net.crf):
                                key = tuple(self._data_tags(row[:n]))
                                merged[key] = merged.get(key, 0.0) + p
                        out[i].nbest = sorted(((list(tags), p) for tags, p in merged.items()), key=lambda item: -item[1])
        return out

    def _distribution(self, batch: Batch) -> tuple[LinearChainCRF, torch.Tensor]:
        """The CRF and the emissions, shape ``(B, T, num_tags)``, that define ``p(tags | tokens)``."""
        scores = self.net.emissions(batch)
        if self.net.crf is not None:
            return self.net.crf, scores
        independent = LinearChainCRF(len(self.labels)).to(scores.device)
        torch.nn.init.zeros_(independent.transitions)
        torch.nn.init.zeros_(independent.start_transitions)
        torch.nn.init.zeros_(independent.end_transitions)
        return independent, scores.log_softmax(dim=2)

    def _data_tags(self, path: list[int]) -> list[str]:
        tags = [self.labels.items[t] for t in path]
        return convert(tags, self.model_scheme, self.data_scheme) if self.model_scheme != self.data_scheme else tags

    def _possible(self, path: list[int], score: float, constrained: bool) -> bool:
        """False for the padding entries k-best Viterbi returns when a sentence has fewer than k paths,
        and for paths the CRF's scheme constraints forbid (they only fill such gaps, at probability ~0)."""
        if score == float("-inf"):
            return False
        if not constrained or self.model_scheme == "plain":
            return True
        return not is_valid([self.labels.items[t] for t in path], self.model_scheme)

    def _confidences(
        self, crf: LinearChainCRF, emissions: torch.Tensor, mask: torch.Tensor, best: torch.Tensor, paths: list[list[int]]
    ) -> tuple[list[list[float]], list[list[float]]]:
        """Per sentence: each token's probability of its predicted entity type (or tag), and each predicted
        entity's exact probability. ``emissions`` (B, T, K), ``mask`` and ``best`` (B, T); ``paths`` unpadded."""
        items = self.labels.items
        plain = self.model_scheme == "plain"
        kinds = [tag if plain or tag == "O" else tag[2:] for tag in items]
        kind_ids = {kind: n for n, kind in enumerate(dict.fromkeys(kinds))}
        # shape: (K,) the type group of every tag
        groups = torch.tensor([kind_ids[kind] for kind in kinds], device=emissions.device)
        marginals = crf.marginals(emissions, mask)
        # shape: (B, T, num_types): the marginals summed over the tags of each type (B-PER, I-PER, … -> PER)
        by_kind = marginals.new_zeros(*marginals.shape[:2], len(kind_ids)).index_add_(2, groups, marginals)
        # shape: (B, T)
        token = by_kind.gather(2, groups[best].unsqueeze(2)).squeeze(2)
        token_probs = [row[: len(path)] for row, path in zip(token.tolist(), paths)]
        if plain:
            return token_probs, [[] for _ in paths]
        segments, stops, counts = [], [], []
        for b, path in enumerate(paths):
            found = spans([items[t] for t in path], self.model_scheme)
            segments += [(b, start, end) for _, start, end in found]
            # An IOB2 chunk is the whole entity only if no I- tag of its type follows; in BIOES, E-/S- end it.
            stops += [self.labels.id(f"I-{kind}") if self.model_scheme == "iob2" else -1 for kind, _, _ in found]
            counts.append(len(found))
        if not segments:
            return token_probs, [[] for _ in paths]
        device = emissions.device
        probs = crf.segment_marginals(
            emissions, mask, best, torch.tensor(segments, device=device), torch.tensor(stops, device=device)
        ).tolist()
        span_probs, at = [], 0
        for count in counts:
            span_probs.append(probs[at : at + count])
            at += count
        return token_probs, span_probs

    def check_min_confidence(self, threshold: float) -> None:
        """An InputError unless entities above ``threshold`` make sense: a span scheme and 0 < threshold <= 1."""
        if not 0 < threshold <= 1:
            raise InputError(f"must be a probability in (0, 1], got {threshold:g}", "--min-confidence")
        if self.model_scheme == "plain":
            raise InputError("is for entity taggers (spans above a probability); this model has plain tags "
                             "(use --confidence or --nbest)", "--min-confidence")

    def _spans_above(
        self, crf: LinearChainCRF, emissions: torch.Tensor, mask: torch.Tensor, paths: list[list[int]], threshold: float
    ) -> list[list[tuple[str, int, int, float, bool]]]:
        """Per sentence, every entity ``(type, start, end, probability, on the best path)`` whose probability
        is at least ``threshold``: p(the tags of the model scheme spell exactly that entity there), so B-X I-X E-X
        (or S-X) in BIOES, B-X I-X not followed by I-X in IOB2. An entity is only as probable as each of its
        tags, so the candidates are the runs of tags whose marginals reach ``threshold``; their exact
        probabilities come from :meth:`LinearChainCRF.labelled_segment_marginals`. ``paths``: the best tags."""
        ids = self.labels.index
        bioes = self.model_scheme == "bioes"
        kinds = sorted({tag[2:] for tag in self.labels.items if tag != "O"})
        marginals = crf.marginals(emissions, mask).tolist()
        segments: list[tuple[int, int, int]] = []
        rows: list[list[int]] = []
        stops: list[int] = []
        names: list[str] = []
        for b, path in enumerate(paths):
            n, m = len(path), marginals[b]
            for kind in kinds:
                begin, inner = ids[f"B-{kind}"], ids[f"I-{kind}"]
                if bioes:
                    last, single = ids[f"E-{kind}"], ids[f"S-{kind}"]
                for s in range(n):
                    if bioes and m[s][single] >= threshold:
                        segments.append((b, s, s + 1)), rows.append([single]), stops.append(-1), names.append(kind)
                    if m[s][begin] < threshold:
                        continue
                    e = s + 2 if bioes else s + 1  # the candidate is tokens [s, e)
                    while e <= n:
                        if bioes and m[e - 1][last] >= threshold:
                            segments.append((b, s, e)), rows.append([begin] + [inner] * (e - s - 2) + [last])
                            stops.append(-1), names.append(kind)
                        elif not bioes and (e == n or 1 - m[e][inner] >= threshold):
                            segments.append((b, s, e)), rows.append([begin] + [inner] * (e - s - 1))
                            stops.append(inner), names.append(kind)
                        following = e - 1 if bioes else e  # the token that continues the run inside the entity
                        if following >= n or m[following][inner] < threshold:
                            break
                        e += 1
        found: list[list[tuple[str, int, int, float, bool]]] = [[] for _ in paths]
        if not segments:
            return found
        device = emissions.device
        width = max(map(len, rows))
        probs = crf.labelled_segment_marginals(
            emissions, mask, torch.tensor(segments, device=device),
            torch.tensor([row + [0] * (width - len(row)) for row in rows], device=device),
            torch.tensor(stops, device=device),
        ).tolist()
        items = self.labels.items
        best = [set(spans([items[t] for t in path], self.model_scheme)) for path in paths]
        for (b, s, e), kind, p in zip(segments, names, probs):
            if p >= threshold:
                found[b].append((kind, s, e, p, (kind, s, e) in best[b]))
        for spans_of in found:
            spans_of.sort(key=lambda span: (span[1], -span[3], span[2], span[0]))
        return found

    def span_evidence(self, sentences: Sequence[Sequence[str]], gold: Sequence[Sequence[str]], floor: float = 0.05,
                      batch_size: int = PREDICT_BATCH) -> list[dict[str, Any]]:
        """What a held-out model says of each sentence's gold entities (``gold``: tags in the model's scheme),
        for finding label errors: per sentence ``{"gold": [(type, start, end, p(that entity), p(its tokens all
        outside entities))], "found": [every entity at least floor probable, as TagDetails.candidates]}``."""
        check_token_lists(sentences)
        self.check_min_confidence(floor)
        out: list[dict[str, Any]] = [{"gold": [], "found": []} for _ in sentences]
        order = sorted((i for i, s in enumerate(sentences) if s), key=lambda i: len(sentences[i]))
        ids, outside = self.labels.index, self.labels.index.get("O", 0)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self.collate([sentences[i] for i in chunk])
                crf, emissions = self._distribution(batch)
                paths, _ = crf.nbest(emissions, batch.mask, 1)
                best = [row[:n] for row, n in zip(paths[:, 0].tolist(), batch.lengths.tolist())]
                for i, found in zip(chunk, self._spans_above(crf, emissions, batch.mask, best, floor)):
                    out[i]["found"] = found
                segments, rows, stops, owners = [], [], [], []
                for b, i in enumerate(chunk):
                    tags = list(gold[i])
                    for kind, s, e in spans(tags, self.model_scheme):
                        stop = ids[f"I-{kind}"] if self.model_scheme == "iob2" else -1
                        segments += [(b, s, e), (b, s, e)]
                        rows += [[ids[t] for t in tags[s:e]], [outside] * (e - s)]
                        stops += [stop, -1]
                        owners.append((i, kind, s, e))
                if not segments:
                    continue
                width = max(map(len, rows))
                device = emissions.device
                probs = crf.labelled_segment_marginals(
                    emissions, batch.mask, torch.tensor(segments, device=device),
                    torch.tensor([row + [0] * (width - len(row)) for row in rows], device=device),
                    torch.tensor(stops, device=device),
                ).tolist()
                for n, (i, kind, s, e) in enumerate(owners):
                    out[i]["gold"].append((kind, s, e, probs[2 * n], probs[2 * n + 1]))
        return out

    def held_out(self, records: Sequence[Any], targets: Sequence[Any]) -> list[Any]:
        """What this model (trained without ``records``) says of them, for :meth:`label_issues`."""
        return self.span_evidence(self.inputs(records), targets)

    @classmethod
    def label_issues(cls, records: Sequence[Any], targets: Sequence[Any], evidence: Sequence[Any],
                     labels: Sequence[str]) -> list[dict[str, Any]]:
        """Gold entities the held-out models dispute, most disputed first: an entity for which another reading
        of its tokens (another type, other boundaries, or no entity) is more probable than it, and an entity
        the models find more probable than not (p > 0.5) where the gold data has none. ``score``: how much more
        probable the suggestion is than the gold reading."""
        issues = []
        for record, said in zip(records, evidence):
            tokens = record.tokens

            def shown(start: int, end: int) -> str:
                return " ".join([*tokens[:start], "[" + " ".join(tokens[start:end]) + "]", *tokens[end:]])

            gold_spans = [(kind, s, e) for kind, s, e, _, _ in said["gold"]]
            for kind, s, e, p_gold, p_outside in said["gold"]:
                rivals = [(p, f"{k}: {' '.join(tokens[a:b])}", a, b) for k, a, b, p, _ in said["found"]
                          if (k, a, b) != (kind, s, e) and a < e and s < b]
                rivals.append((p_outside, "O (no entity)", s, e))
                q, suggestion, a, b = max(rivals)
                if q > p_gold:
                    issues.append({"line": record.line + s, "text": shown(min(s, a), max(e, b)),
                                   "gold": f"{kind}: {' '.join(tokens[s:e])}", "suggested": suggestion,
                                   "gold_probability": p_gold, "suggested_probability": q, "score": q - p_gold})
            for k, a, b, p, _ in said["found"]:
                if p > 0.5 and not any(a < e and s < b for _, s, e in gold_spans):
                    issues.append({"line": record.line + a, "text": shown(a, b), "gold": "O (no entity)",
                                   "suggested": f"{k}: {' '.join(tokens[a:b])}", "gold_probability": None,
                                   "suggested_probability": p, "score": 2 * p - 1})
        return sorted(issues, key=lambda issue: -issue["score"])

    # ---- the task protocol ----

    @classmethod
    def training_data(cls, train: Path | list[Path], dev: Path | None, data_config: DataConfig, model_config: ModelConfig,
                      known: Sequence[str] = ()) -> TrainingData:
        trains = train if isinstance(train, list) else [train]
        train_sents = []
        for path in trains:
            first = len(train_sents)
            train_sents += read_sentences(path, data_config, context=_FOR_TAGGING)
            # documents are numbered per file: the next file's first document must not continue the last one
            offset = 1 + max((s.document for s in train_sents[:first] if s.document is not None), default=-1)
            for sentence in train_sents[first:]:
                if sentence.document is not None:
                    sentence.document += offset
        settings, settings_note = {}, ""
        if model_config.document_context and not has_documents(train_sents):
            settings = {"document_context": 0}
            settings_note = ("no document boundaries in the training data (-DOCSTART-, # newdoc): the model reads "
                             "sentences alone (--document-context 0)")
        data_scheme = _resolve_scheme(train_sents, data_config.scheme, trains[0])
        model_scheme = "plain" if data_scheme == "plain" else model_config.train_scheme
        if known and (model_scheme == "plain") != all(tag == "O" or tag[1:2] != "-" for tag in known):
            raise InputError(f"the tags are {'plain' if model_scheme == 'plain' else 'entity tags'} but the model's "
                             "are not: continue a model on data of its own kind", trains[0])
        train_tags = [convert(s.tags, data_scheme, model_scheme) for s in train_sents]
        labels = Vocab(label_set(train_tags + [list(known)], model_scheme))
        dev_sents, dev_gold = cls.dev_data(dev, data_config, labels) if dev is not None else ([], [])
        summary = (
            f"train: {len(train_sents):,} sentences, {sum(map(len, train_sents)):,} tokens, "
            f"{len(labels)} labels (files in {data_scheme}, model in {model_scheme})"
            + (f"; dev: {len(dev_sents):,} sentences" if dev_sents else "")
        )
        return TrainingData(
            train_sents, dev_sents, train_tags, dev_gold, labels, summary,
            state={"data_scheme": data_scheme}, meta={"train_sentences": len(train_sents)},
            settings=settings, settings_note=settings_note,
        )

    @classmethod
    def dev_data(cls, dev: Path, data_config: DataConfig, labels: Vocab) -> tuple[list[Any], list[Any]]:
        # gold tags stay in the files' scheme (predictions are converted to it); entity types training never
        # saw are scored as missed, as seqeval scores them
        sentences = list(read_sentences(dev, data_config, context=_FOR_TAGGING))
        return sentences, [s.tags for s in sentences]

    @classmethod
    def build_net(cls, config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, **state: Any) -> TaggerNet:
        data_scheme = state["data_scheme"]
        return build_net(config, words, chars, labels, "plain" if data_scheme == "plain" else config.train_scheme)

    def training_batch(self, token_lists: Sequence[Sequence[str]], targets: Sequence[Any]) -> Batch:
        return self.collate(token_lists, targets)

    @property
    def loss_per_token(self) -> bool:
        return self.model_config.head == "softmax"

    # --init-from: a new tag starts as a copy of O (its emissions NEW_LABEL_MARGIN lower, its transitions O's), so
    # every path through new tags scores below the same path with O there, which the scheme allows as well
    label_parameters = {
        "project.weight": ((0,), "copy", 0.0), "project.bias": ((0,), "copy", NEW_LABEL_MARGIN),
        "crf.transitions": ((0, 1), "copy", 0.0), "crf.start_transitions": ((0,), "copy", 0.0),
        "crf.end_transitions": ((0,), "copy", 0.0),
    }

    @classmethod
    def reference_label(cls, labels: Sequence[str]) -> str:
        return "O" if "O" in labels else labels[0]

    def label_counts(self, targets: Sequence[Any]) -> list[int]:
        """Training tokens per tag (in the model's scheme), in label order."""
        index = self.labels.index
        counts = [0] * len(self.labels)
        for tags in targets:
            for tag in tags:
                counts[index[tag]] += 1
        return counts

    def dev_scores(self, gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, float]:
        from seqtag.evaluation.metrics import tagging_report

        report = tagging_report(list(gold), list(predicted), self.data_scheme)
        return {
            "score": report["score"],
            "precision": report["micro"]["precision"],
            "recall": report["micro"]["recall"],
            "f1": report["micro"]["f1"],
            "accuracy": report["accuracy"],
        }

    # how labelled data is predicted beside its gold labels, and two systems' outputs compared (functions of
    # seqtag.evaluation.evaluate, which the base class's outcome() and compare_predictions() call)
    scoring = ("tag_labelled", "compare_tags")

    def prediction_input(self, source: Any, fmt: Any, encoding: str = "utf-8", token_column: int = 0,
                         lines: range | None = None) -> Any:
        """Sentences to tag from ``source`` in the registry format ``fmt`` (labels in it are ignored)."""
        from seqtag.formats.registry import read_sentences_to_tag

        sentences = read_sentences_to_tag(source, fmt, encoding, token_column, lines=lines, config=self.data_config)
        return with_context(sentences, self.model_config.document_context)

    def inputs(self, records: Iterable[Any]) -> list[Any]:
        """The records' tokens, each sentence in its document context when the model reads one."""
        return [model_input(record) for record in with_context(records, self.model_config.document_context)]

    def prediction_job(self, confidence: bool, nbest: int, min_confidence: float | None = None) -> tuple[str, dict[str, Any]]:
        """The prediction method (by name, for worker processes) and its options."""
        if confidence or nbest or min_confidence is not None:
            return "predict_details", {"confidence": confidence, "nbest": nbest, "min_confidence": min_confidence}
        return "predict_chunk", {}

    def check_prediction_options(self, output_format: str, top_k: int | None, min_confidence: float | None = None,
                                 confidence: bool = False, nbest: int = 0) -> None:
        if top_k is not None:
            raise InputError("is for classifiers (the K most probable classes); this model is a tagger", "--top-k")
        if min_confidence is not None:
            self.check_min_confidence(min_confidence)
            if output_format != "jsonl":
                raise InputError("needs --format jsonl (overlapping spans and their probabilities have no place in "
                                 "CoNLL columns)", "--min-confidence")

    def write_predictions(self, results: Any, out: Any, output_format: str, *, top_k: int | None = None,
                          confidence: bool = False, nbest: int = 0, min_confidence: float | None = None) -> None:
        """``(sentence, prediction)`` pairs as CoNLL columns or JSONL records, or as documents for an annotation
        tool (``out``: a stream, or an AnnotationOutput for a brat folder and a model version)."""
        from seqtag.formats.annotation_writers import WRITERS, tagged_documents, write_documents

        if output_format in WRITERS:
            write_documents(tagged_documents(results, self.data_scheme), out, output_format)
            return
        from seqtag.formats.writers import write_details, write_tagged

        if confidence or nbest or min_confidence is not None:
            write_details(results, out, self.data_scheme)
        else:
            write_tagged(results, out, output_format, self.data_scheme)

    def archive_extra(self) -> dict[str, Any]:
        return {"schemes": {"data": self.data_scheme, "model": self.model_scheme}}

    @classmethod
    def archive_state(cls, body: dict[str, Any]) -> dict[str, Any]:
        return {"data_scheme": body["schemes"]["data"]}

    # ---- active learning: `seqtag select` ----

    strategies = ("entropy", "least-confidence", "margin")

    def uncertainty(self, groups: Sequence[Sequence[Sequence[str]]], strategy: str = "entropy",
                    batch_size: int = PREDICT_BATCH) -> list[float]:
        """How unsure the model is of each group of token lists (the sentences of one text), higher = more:
        ``entropy`` sums the entropy of every token's tag marginals (total token entropy, Settles & Craven
        2008); ``least-confidence`` is 1 - p(the best tag sequences of all the sentences); ``margin`` is 1 -
        (p(best) - p(second best)) of the text's least certain sentence. Probabilities are the CRF's (or a
        softmax head's, as in :meth:`predict_details`); an empty group scores 0."""
        flat = [(g, tokens) for g, group in enumerate(groups) for tokens in group if tokens]
        sentences = [tokens for _, tokens in flat]
        if strategy == "entropy":
            per = self._entropies(sentences, batch_size)
            totals = [0.0] * len(groups)
            for (g, _), value in zip(flat, per):
                totals[g] += value
            return totals
        if strategy not in ("least-confidence", "margin"):
            raise InputError(f"unknown strategy {strategy!r}; taggers have {', '.join(self.strategies)}", "--strategy")
        details = self.predict_details(sentences, batch_size, nbest=2 if strategy == "margin" else 1)
        best = [1.0] * len(groups)  # least-confidence: p(every sentence's best path); margin: the smallest margin
        for (g, _), detail in zip(flat, details):
            ranked = [p for _, p in detail.nbest or []] + [0.0, 0.0]
            best[g] = best[g] * ranked[0] if strategy == "least-confidence" else min(best[g], ranked[0] - ranked[1])
        return [1.0 - value if any(group) else 0.0 for value, group in zip(best, groups)]

    def _entropies(self, sentences: Sequence[Sequence[str]], batch_size: int) -> list[float]:
        """Per token list, the sum over its tokens of the entropy (nats) of the tag marginals."""
        order = sorted(range(len(sentences)), key=lambda i: len(sentences[i]))
        out = [0.0] * len(sentences)
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                chunk = order[start : start + batch_size]
                batch = self.collate([sentences[i] for i in chunk])
                crf, emissions = self._distribution(batch)
                # shape: (B, T, K)
                marginals = crf.marginals(emissions, batch.mask)
                entropy = -(marginals * marginals.clamp_min(1e-12).log()).sum(2) * batch.mask
                for i, value in zip(chunk, entropy.sum(1).tolist()):
                    out[i] = value
        return out

    # ---- checks and descriptions: `seqtag data check`, `seqtag diagnose`, `seqtag info`, settings ----

    unit = "sentence"  # what one record of the data is called in reports
    long_after = 250  # tokens: the data check's default --max-length
    long_hint = "; they cost memory in a batch"  # what the data check says of longer sentences
    label_noun = "tag"  # what one label is called in reports

    @classmethod
    def check_records(cls, path: str | Path, data_config: DataConfig) -> Iterator[tuple[int, list[str], list[str]]]:
        """``(line, tokens, tags)`` per sentence of a labelled file, read as training reads it."""
        return ((s.line, s.tokens, s.tags or []) for s in read_sentences(path, data_config))

    @classmethod
    def check_scheme(cls, train: str | Path, data_config: DataConfig) -> tuple[str | None, list[tuple[str, str]]]:
        """The tag scheme training would use: detected from the tags of ``train`` (a first pass) unless
        ``data_config.scheme`` names one; with ``(level, message)`` findings. None when no scheme can be
        settled: an unreadable file (the scan of train reports it) or a span scheme named for plain tags."""
        requested = data_config.scheme
        try:
            detected = detect_scheme(tags for _, _, tags in cls.check_records(train, data_config))
        except InputError:
            return None, []
        if requested != "auto" and requested != "plain" and detected == "plain":
            return None, [("error", f"--scheme {requested} given, but the tags have no B-/I- prefixes")]
        scheme = detected if requested == "auto" else requested
        how = "detected from train" if requested == "auto" else "--scheme"
        return scheme, [("ok", f"tag scheme {scheme} ({how})")]

    @classmethod
    def check_unseen_labels(cls, noun: str, listed: str) -> tuple[str, str]:
        """``(level, message)`` for dev labels (or entity types: ``noun``) that train lacks, ``listed`` with counts."""
        return "warning", f"dev has {noun}s train lacks; the model cannot predict them: {listed}"

    @classmethod
    def read_token_lists(cls, path: str | Path, data_config: DataConfig) -> Iterator[list[str]]:
        """The tokens of each sentence of a tagging file (CoNLL / CoNLL-U); tags, if any, are not read."""
        return (sentence.tokens for sentence in read_sentences(path, data_config, with_tags=False))

    @classmethod
    def describe_architecture(cls, model: dict[str, Any]) -> str:
        """What `seqtag info` says of the output layer, from a model file's ``config.model``."""
        return f"head {model.get('head')}"

    @classmethod
    def check_settings(cls, model_config: ModelConfig) -> None:
        """An InputError for model settings that are valid alone but not together for a tagger."""
        if model_config.class_weights != "none" and model_config.head == "crf":
            raise InputError("--class-weights auto needs --head softmax: a CRF's loss is over whole tag sequences, "
                             "not over single tags")


def build_net(
    config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, scheme: str
) -> TaggerNet:
    """The network for these vocabularies; CRF transitions are constrained by the labels' ``scheme``."""
    constraints = None if scheme == "plain" else allowed_transitions(labels.items, scheme)
    return TaggerNet(
        config, len(words), len(chars) if chars is not None else 1, len(labels), constraints, words.trainable
    )


def label_set(tag_sequences: Iterable[list[str]], scheme: str) -> list[str]:
    """Every tag the model may output: for span schemes all prefixes of every type seen, so the CRF's
    transition constraints are complete even for types seen only as single tokens."""
    seen = {t for tags in tag_sequences for t in tags}
    if scheme == "plain":
        return sorted(seen)
    types = sorted({t[2:] for t in seen if t != "O"})
    prefixes = "BIES" if scheme == "bioes" else "BI"
    return ["O"] + [f"{p}-{kind}" for kind in types for p in prefixes]


def _sentences(item: str | Sequence[str]) -> tuple[str, list[tuple[list[str], list[tuple[int, int]]]]]:
    """An API input as ``(text, [(tokens, offsets) per sentence])``: raw text is tokenized and split into
    sentences by syntok; a token list is one sentence."""
    from seqtag.data.tokenize import sentence_spans

    text, offsets = as_text(item)
    if offsets is not None:
        return text, [(list(item), offsets)] if offsets else []
    return text, [([text[a:b] for a, b in places], places) for places in sentence_spans(text) if places]


def _resolve_scheme(sentences: list[Sentence], requested: str, path: Path) -> str:
    detected = detect_scheme(s.tags or [] for s in sentences)
    if requested == "auto":
        return detected
    if requested != "plain" and detected == "plain":
        raise InputError(f"--scheme {requested} given, but the tags have no B-/I- prefixes", path)
    return requested
