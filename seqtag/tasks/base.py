"""What taggers and classifiers share: vocabularies + network + configs, one model file, streaming."""
from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

import torch
from torch import nn

from seqtag._version import __version__
from seqtag.archive import load_archive, save_archive
from seqtag.data.batching import Collator
from seqtag.data.context import model_input
from seqtag.config import DataConfig, ModelConfig, TrainConfig, as_dict, from_dict
from seqtag.errors import InputError
from seqtag.data.vocab import Vocab, WordVocab
from seqtag.models.ensemble import EnsembleNet, full_state, shared_state
from seqtag.vectors.compact import FROZEN_SUFFIX, pack_state, rounded, unpack_state

PREDICT_BATCH = 256  # texts per batch at prediction time (sorted by length, so little padding)
# --init-from: a new label starts as a copy of a reference label of the old model (a tagger's O) with its output
# bias lowered by this much, so that it scores below that label everywhere and the untrained model predicts as
# before, while a few steps of training can lift it
NEW_LABEL_MARGIN = -5.0
M = TypeVar("M", bound="Model")


@dataclass
class TrainingData:
    """What a task reads from labelled files before training (see :meth:`Model.training_data`)."""

    train: list[Any]  # records with ``.tokens``
    dev: list[Any]
    targets: list[Any]  # per training record, what the network learns (e.g. tags in the model's scheme)
    dev_gold: list[Any]  # per dev record, the gold labels as scored
    labels: Vocab
    summary: str  # one line about the data, for the log
    state: dict[str, Any] = field(default_factory=dict)  # the task's own constructor arguments
    meta: dict[str, Any] = field(default_factory=dict)  # what the model file records about the data
    # model settings the data decides (e.g. no document context without documents), with the note that says so
    settings: dict[str, Any] = field(default_factory=dict)
    settings_note: str = ""


def check_token_lists(token_lists: Any) -> None:
    """A TypeError saying what to pass when ``token_lists`` is a string, or holds strings, instead of
    token lists (``model.predict("some text")`` would otherwise tag every character)."""
    advice = "to predict raw text, call the model on it: model(text), or model.pipe(texts)"
    if isinstance(token_lists, str):
        raise TypeError(f"expected a list of token lists such as [['John', 'lives', 'in', 'Berlin']], got a str; {advice}")
    for i, tokens in enumerate(token_lists):
        if isinstance(tokens, str):
            raise TypeError(f"expected a list of token lists, but item {i} is a str ({tokens[:40]!r}); {advice}")


def as_text(item: Any) -> tuple[str, list[tuple[int, int]] | None]:
    """``(text, token offsets)`` of an API input: raw text (offsets None: to be tokenized) or a list of
    tokens, joined by spaces (so offsets point into that text)."""
    if isinstance(item, str):
        return item, None
    if isinstance(item, (list, tuple)) and all(isinstance(token, str) for token in item):
        offsets, at = [], 0
        for token in item:
            offsets.append((at, at + len(token)))
            at += len(token) + 1
        return " ".join(item), offsets
    raise TypeError(f"expected a text (str) or a list of tokens (list of str), got {type(item).__name__}")


def word_list(stored: str | list[str] | torch.Tensor) -> list[str]:
    """The word vocabulary as saved: :func:`compressed_words` (model format 2), a newline-joined string (1) or a
    plain list."""
    if isinstance(stored, torch.Tensor):
        try:
            stored = zlib.decompress(stored.numpy().tobytes()).decode("utf-8")
        except (zlib.error, UnicodeDecodeError) as error:
            raise ValueError(f"unreadable word list ({error})") from None
    return stored.split("\n") if isinstance(stored, str) else list(stored)


def compressed_words(words: Sequence[str]) -> torch.Tensor:
    """The words joined by newlines, UTF-8, zlib-compressed, as a uint8 tensor (plain data for weights_only)."""
    return torch.frombuffer(bytearray(zlib.compress("\n".join(words).encode("utf-8"), 6)), dtype=torch.uint8)


def in_chunks(
    items: Iterable[Any], predict: Callable[[list[Sequence[str]]], list[Any]], chunk: int
) -> Iterator[tuple[Any, Any]]:
    """``(item, prediction)`` for items with ``.tokens``, in input order, ``predict`` called on the tokens
    (in their document context, when :func:`seqtag.data.context.with_context` gave them one) of ``chunk`` items at a time (so at most ``chunk`` items are held in memory)."""
    iterator = iter(items)
    while buffer := list(islice(iterator, chunk)):
        yield from zip(buffer, predict([model_input(item) for item in buffer]))


class Model:
    """Base of :class:`~seqtag.tasks.tagging.Tagger` and :class:`~seqtag.tasks.classification.Classifier`."""

    task = ""

    def __init__(
        self,
        net: nn.Module,
        words: WordVocab,
        chars: Vocab | None,
        labels: Vocab,
        model_config: ModelConfig,
        data_config: DataConfig,
        train_config: TrainConfig | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        self.net = net.eval()
        self.words = words
        self.chars = chars
        self.labels = labels
        self.model_config = model_config
        self.data_config = data_config
        self.train_config = train_config or TrainConfig()
        self.meta = meta or {}
        self.collate = Collator(words, chars, labels, casing=model_config.casing_dim > 0)

    @property
    def device(self) -> torch.device:
        return self.collate.device

    @property
    def members(self) -> int:
        """How many networks predict together (``seqtag train --seeds N --ensemble``); 1 for a single one."""
        return len(self.net) if isinstance(self.net, EnsembleNet) else 1

    @classmethod
    def ensemble(cls: type[M], models: Sequence[Model], meta: dict[str, Any] | None = None) -> M:
        """One model predicting with the mean of ``models`` (taggers: of their emission and CRF transition
        scores; classifiers: of their probabilities), which must be of this task with the same vocabularies,
        labels and settings: runs of one training with other seeds. ``meta`` replaces the first's."""
        if len(models) < 2:
            raise ValueError(f"expected 2 or more models to ensemble, got {len(models)}")
        first = models[0]
        for i, other in enumerate(models, 1):
            if other.members > 1:
                raise ValueError(f"model {i} is an ensemble already ({other.members} members); give single models")
            if type(other) is not cls:
                raise ValueError(f"model {i} is a {other.task} model, not a {cls.task} model like model 1")
            for what, mine, theirs in (
                ("labels", first.labels.items, other.labels.items),
                ("characters", first.chars.items if first.chars else None, other.chars.items if other.chars else None),
                ("words", (first.words.items, first.words.trainable), (other.words.items, other.words.trainable)),
                ("model settings", as_dict(first.model_config), as_dict(other.model_config)),
                ("data settings", as_dict(first.data_config), as_dict(other.data_config)),
            ):
                if mine != theirs:
                    raise ValueError(f"model {i} has other {what} than model 1: an ensemble's members are runs of "
                                     "one training (the same data and settings, other seeds)")
        net = EnsembleNet([model.net for model in models])
        net.share_frozen()
        extra = cls.combined_extra([model.archive_extra() for model in models])
        return cls(net, first.words, first.chars, first.labels, first.model_config, first.data_config,
                   first.train_config, dict(first.meta if meta is None else meta), **cls.archive_state(extra)).to(first.device)

    @classmethod
    def combined_extra(cls, extras: list[dict[str, Any]]) -> dict[str, Any]:
        """An ensemble's task-specific model-file entries, from its members' (:meth:`archive_extra`)."""
        return extras[0]

    def to(self: M, device: torch.device | str) -> M:
        """Run on ``device`` from now on (the network's weights and every batch go there); returns self."""
        device = torch.device(device)
        self.net.to(device)
        self.collate.device = device
        return self

    # ---- the task protocol: what each task defines ----

    @classmethod
    def training_data(cls, train: Path | list[Path], dev: Path | None, data_config: DataConfig, model_config: ModelConfig,
                      known: Sequence[str] = ()) -> TrainingData:
        """Read labelled training files (one, or several read as one: ``--rehearse``) and the dev file; the
        label vocabulary (with the ``known`` labels of a model continued with ``--init-from``) and the targets."""
        raise NotImplementedError

    @classmethod
    def dev_data(cls, dev: Path, data_config: DataConfig, labels: Vocab) -> tuple[list[Any], list[Any]]:
        """Read a labelled dev file as training reads it: its records and their gold labels as scored. A
        label outside ``labels`` (the training data's) is an error where the task cannot score it."""
        raise NotImplementedError

    # the output layer's parameters whose axes run over the labels, by state-dict key, and how a new label's
    # entries start: (axes, "copy", shift): as the reference label's (:meth:`reference_label`) plus ``shift``,
    # or (axes, "constant", value). ``--init-from`` copies the old labels' entries by name.
    label_parameters: dict[str, tuple[tuple[int, ...], str, float]] = {}

    @classmethod
    def reference_label(cls, labels: Sequence[str]) -> str:
        """The old label new labels start as a (lowered) copy of."""
        return labels[0]

    def inherit(self, old: Model) -> None:
        """What a model continued from ``old`` (``--init-from``) keeps of it besides the weights."""

    @classmethod
    def extend(cls: type[M], old: Model, data: TrainingData, data_config: DataConfig, train_config: TrainConfig,
               model_config: ModelConfig, meta: dict[str, Any]) -> M:
        """A model that continues ``old`` on ``data`` (``--init-from``): the old vocabularies extended, the
        old weights copied by name. A new word starts as the vector the old model gave it (through its lookup
        chain; unknown words as <unk>), a new character as <unk>'s, a new label as the task's
        :attr:`label_parameters` say (a copy of a reference label scoring :data:`NEW_LABEL_MARGIN` below
        it): untrained, the model predicts exactly what ``old`` predicts."""
        old_words = old.words
        kept = old_words.items[: old_words.trainable]
        known = set(kept)
        new_words = list(dict.fromkeys(t for record in data.train for t in record.tokens if t not in known))
        moved = set(new_words)
        extra = [(i, w) for i, w in enumerate(old_words.items[old_words.trainable:], old_words.trainable) if w not in moved]
        words = WordVocab(kept + new_words + [w for _, w in extra], len(kept) + len(new_words))
        chars = None
        if old.chars is not None:
            seen = set(old.chars.items)
            chars = Vocab(old.chars.items + sorted({c for w in new_words for c in w if c not in seen}))
        net = cls.build_net(model_config, words, chars, data.labels, **data.state)
        model = cls(net, words, chars, data.labels, model_config, data_config, train_config, meta, **data.state)
        state = net.state_dict()
        previous = old.net.state_dict()
        with torch.no_grad():
            table, frozen = previous["encoder.words.weight"], previous["encoder.extra_words"].float()

            def vector(word: str) -> torch.Tensor:
                row = old_words.lookup(word)
                return table[row] if row < old_words.trainable else frozen[row - old_words.trainable]

            rows = [table[: len(kept)]] + ([torch.stack([vector(w) for w in new_words])] if new_words else [])
            state["encoder.words.weight"] = torch.cat(rows)
            # rounded again: rows move between the 8-bit and 4-bit ranges when some leave (seqtag.vectors.compact)
            state["encoder.extra_words"] = rounded(frozen[[i - old_words.trainable for i, _ in extra]].reshape(-1, table.shape[1]))
            if chars is not None:
                for key in [k for k in state if k.startswith("encoder.chars.") and k.endswith("embed.weight")]:
                    grown = previous[key][1:2].expand(len(chars) - len(old.chars), -1)  # <unk>'s row
                    state[key] = torch.cat([previous[key], grown])
            reference = old.labels.index[cls.reference_label(old.labels.items)]
            # for every label of the new model, the old label whose entries it starts from
            source = torch.tensor([old.labels.index.get(label, reference) for label in data.labels.items])
            added = torch.tensor([label not in old.labels.index for label in data.labels.items])
            for key, (axes, how, value) in cls.label_parameters.items():
                if key not in state:
                    continue
                if axes == (0,):
                    grown = previous[key][source].clone()
                else:  # (0, 1): label to label (CRF transitions)
                    grown = previous[key][source[:, None], source[None, :]].clone()
                if how == "constant":
                    grown[added] = value
                    if axes != (0,):
                        grown[:, added] = value
                else:
                    grown[added] += value
                state[key] = grown
            for key, value in previous.items():
                if key in cls.label_parameters or key.startswith(("encoder.words.", "encoder.extra_words")):
                    continue
                if key.startswith("encoder.chars.") and key.endswith("embed.weight"):
                    continue
                if key.startswith("crf.allowed"):  # the new label set's constraints, from build_net
                    continue
                if value.shape != state[key].shape:
                    raise InputError(f"cannot continue this model: {key} has shape {tuple(value.shape)}, the new "
                                     f"network's {tuple(state[key].shape)}", "--init-from")
                state[key] = value
        net.load_state_dict(state)
        model.inherit(old)
        return model

    @classmethod
    def build_net(cls, config: ModelConfig, words: WordVocab, chars: Vocab | None, labels: Vocab, **state: Any) -> nn.Module:
        """The task's network for these vocabularies (``state`` as in :attr:`TrainingData.state`)."""
        raise NotImplementedError

    @classmethod
    def create(cls: type[M], inputs: Any, data: TrainingData, data_config: DataConfig, train_config: TrainConfig,
               meta: dict[str, Any]) -> M:
        """A new, untrained model for ``data`` over the shared ``inputs`` (:func:`seqtag.data.inputs.build_inputs`)."""
        net = cls.build_net(inputs.config, inputs.words, inputs.chars, data.labels, **data.state)
        return cls(net, inputs.words, inputs.chars, data.labels, inputs.config, data_config, train_config, meta, **data.state)

    def training_batch(self, token_lists: Sequence[Sequence[str]], targets: Sequence[Any]) -> Any:
        """A batch of token lists with their targets, for the loss."""
        raise NotImplementedError

    @property
    def loss_per_token(self) -> bool:
        """Whether the loss is a mean over tokens (rather than over examples): distributed ranks weight by it."""
        return False

    def dev_scores(self, gold: Sequence[Any], predicted: Sequence[Any]) -> dict[str, float]:
        """Scores of ``dev_predict``'s output against gold, with the model-selection ``score`` (higher is better)."""
        raise NotImplementedError

    def inputs(self, records: Iterable[Any]) -> list[Any]:
        """What the network reads for each record with ``.tokens`` (in order): by default its tokens;
        taggers with document context add the neighbouring sentences (:mod:`seqtag.data.context`)."""
        return [record.tokens for record in records]

    def dev_predict(self, token_lists: Sequence[Sequence[str]]) -> list[Any]:
        """What :meth:`dev_scores` and :meth:`tune_on_dev` score: by default :meth:`predict`'s output."""
        return self.predict(token_lists)

    tunes_on_dev = False  # whether training ends with tune_on_dev on the kept weights' dev predictions

    def tune_on_dev(self, gold: Sequence[Any], predicted: Sequence[Any]) -> None:
        """Set what the task decides from dev data after training (a multi-label classifier's thresholds)."""

    def label_counts(self, targets: Sequence[Any]) -> list[int]:
        """How often each label (in ``self.labels`` order) is a training target: what ``--class-weights auto``
        weighs by."""
        raise NotImplementedError

    def loss_weights(self, counts: list[int], examples: int) -> list[float]:
        """``--class-weights auto``: inverse frequency, ``n / (classes × count)`` over the classes seen
        (scikit-learn's "balanced"); 0 for a class no target has (it never enters the loss)."""
        total, seen = sum(counts), sum(1 for count in counts if count)
        return [total / (seen * count) if count else 0.0 for count in counts]

    def set_class_weights(self, targets: Sequence[Any]) -> str | None:
        """Put ``--class-weights auto`` weights on the network's loss (a buffer that is not saved); a line
        for the training log, or None when the setting is ``none``."""
        if self.model_config.class_weights != "auto":
            return None
        weights = self.loss_weights(self.label_counts(targets), len(targets))
        self.net.class_weights = torch.tensor(weights, dtype=torch.float32, device=self.device)
        named = sorted((w, label) for w, label in zip(weights, self.labels.items) if w > 0)
        shown = ", ".join(f"{label} {w:.3g}" for w, label in (named if len(named) <= 6 else named[:3] + named[-3:]))
        return f"class weights (inverse frequency): {shown}" + (" (lowest and highest)" if len(named) > 6 else "")

    def predict(self, token_lists: Sequence[Sequence[str]], batch_size: int = PREDICT_BATCH) -> list[Any]:
        """One prediction per token list, in order."""
        raise NotImplementedError

    scoring: tuple[str, str] = ("", "")  # the task's functions of seqtag.evaluation.evaluate, see below

    def outcome(self, source: Any, data_config: DataConfig, **options: Any) -> Any:
        """Predict labelled data; the predictions beside the gold labels (an outcome of
        :mod:`seqtag.evaluation.evaluate`, which scores itself). ``options``: ``min_confidence``, for the
        tasks whose :meth:`check_prediction_options` accept it."""
        from seqtag.evaluation import evaluate

        return getattr(evaluate, self.scoring[0])(self, source, data_config, **options)

    @classmethod
    def compare_predictions(cls, gold: Any, systems: tuple[str, str], data_config: DataConfig, **options: Any) -> Any:
        """Significance of two systems' prediction files against ``gold``: ``(unit, count, metrics)``."""
        from seqtag.evaluation import evaluate

        return getattr(evaluate, cls.scoring[1])(gold, systems, data_config, **options)

    def predict_chunk(self, token_lists: Sequence[Sequence[str]], batch_size: int) -> list[Any]:
        """One prediction per token list (empty lists allowed), in order."""
        raise NotImplementedError

    def predict_stream(
        self, items: Iterable[Any], batch_size: int = PREDICT_BATCH, chunk: int = 16384
    ) -> Iterator[tuple[Any, Any]]:
        """``(item, prediction)`` pairs for items with ``.tokens``, in input order, holding at most
        ``chunk`` items in memory (so a stream of any length runs in constant memory). Items are sorted
        by length within a chunk; 16k of them make nearly padding-free batches (34,530 CoNLL sentences:
        10.8 s with 16k against 13 s with 4k, for ≈ 60 MB more memory). Output starts after a chunk."""
        return in_chunks(items, lambda token_lists: self.predict_chunk(token_lists, batch_size), chunk)

    def archive_extra(self) -> dict[str, Any]:
        """Task-specific entries of the model file."""
        return {}

    def save(self, path: str | Path) -> None:
        save_archive(
            path,
            {
                "task": self.task,
                "seqtag_version": __version__,
                "config": {
                    "data": as_dict(self.data_config),
                    "model": as_dict(self.model_config),
                    "train": as_dict(self.train_config),
                },
                "vocab": {
                    # One newline-joined string, zlib-compressed into a byte tensor: torch's weights_only
                    # unpickler is pure Python, and a list of 100k strings took 0.4 s of a 3 s start-up; the
                    # 400k words of GloVe take 3.4 MB as text, 1.9 compressed. Tokens never hold "\n".
                    "words": compressed_words(self.words.items),
                    "trainable_words": self.words.trainable,
                    "chars": self.chars.items if self.chars is not None else None,
                    "labels": self.labels.items,
                },
                "meta": self.meta,
                # CPU tensors, so the file loads anywhere. Frozen pretrained rows go packed at ~5 bits per value
                # (seqtag.vectors.compact; load_pretrained rounded them already, so nothing changes); an
                # ensemble's members share one copy of them.
                "state_dict": pack_state(shared_state({k: v.cpu() for k, v in self.net.state_dict().items()}), FROZEN_SUFFIX),
                **({"members": self.members} if self.members > 1 else {}),
                **self.archive_extra(),
            },
        )

    @classmethod
    def archive_state(cls, body: dict[str, Any]) -> dict[str, Any]:
        """The task's own constructor arguments, from a model file (the inverse of :meth:`archive_extra`)."""
        return {}

    @classmethod
    def build(cls: type[M], body: dict[str, Any], model_config: ModelConfig, words: WordVocab,
              chars: Vocab | None, labels: Vocab, data_config: DataConfig, train_config: TrainConfig) -> M:
        """Make the network for these vocabularies and wrap it (weights are loaded by the caller)."""
        state = cls.archive_state(body)
        members = body.get("members", 1)
        if not isinstance(members, int) or members < 1:
            raise ValueError(f"members: expected a count of 1 or more, got {members!r}")
        nets = [cls.build_net(model_config, words, chars, labels, **state) for _ in range(members)]
        net = nets[0] if members == 1 else EnsembleNet(nets)
        return cls(net, words, chars, labels, model_config, data_config, train_config, **state)

    @classmethod
    def from_archive(cls: type[M], body: dict[str, Any], path: str | Path = "") -> M:
        try:
            config = body["config"]
            vocab = body["vocab"]
            words = WordVocab(word_list(vocab["words"]), vocab.get("trainable_words"))
            chars = Vocab(vocab["chars"]) if vocab.get("chars") else None
            model = cls.build(
                body, from_dict(ModelConfig, config["model"]), words, chars, Vocab(vocab["labels"]),
                from_dict(DataConfig, config.get("data", {})), from_dict(TrainConfig, config.get("train", {})),
            )
            model.net.load_state_dict(full_state(unpack_state(body["state_dict"]), model.members))
            if model.members > 1:
                model.net.share_frozen()
        except (KeyError, TypeError, ValueError, RuntimeError) as err:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise InputError(f"damaged model file ({err.__class__.__name__}: {first_line})", path) from None
        model.net.eval()
        model.meta = body.get("meta", {})
        return model

    @classmethod
    def load(cls: type[M], path: str | Path) -> M:
        body = load_archive(path)
        if body["task"] != cls.task:
            raise InputError(f"this is a {body['task']} model, not a {cls.task} model", path)
        return cls.from_archive(body, path)

    # ---- active learning: `seqtag select` ----

    strategies: tuple[str, ...] = ()  # the uncertainty measures of :meth:`uncertainty`, the default first

    def uncertainty(self, groups: Sequence[Sequence[Sequence[str]]], strategy: str, batch_size: int = PREDICT_BATCH) -> list[float]:
        """How unsure the model is of each group of token lists (the sentences of one text): higher = more."""
        raise NotImplementedError

    # ---- checks and descriptions: `seqtag data check`, `seqtag diagnose`, `seqtag info`, settings ----
    # (the tools call these through seqtag.tasks.task_class(name); findings are (level, message) pairs)

    unit: str  # what one record of the data is called in reports: "sentence", "text"
    long_after: int  # tokens: the data check's default --max-length
    long_hint: str  # what the data check adds about longer records ("; …"), or ""
    label_noun: str  # what one label is called in reports: "tag", "label"

    @classmethod
    def check_records(cls, path: str | Path, data_config: DataConfig) -> Iterator[tuple[int, list[str], list[str]]]:
        """``(line, tokens, labels)`` per record of a labelled file, read as training reads it."""
        raise NotImplementedError

    @classmethod
    def check_scheme(cls, train: str | Path, data_config: DataConfig) -> tuple[str | None, list[tuple[str, str]]]:
        """The label scheme (seqtag.data.schemes) training would use for ``train``, and findings about it;
        None for labels without one."""
        return None, []

    @classmethod
    def check_labels(cls, counts: dict[str, int], items: int, empty: int) -> list[tuple[str, str]]:
        """Findings of the task's own about the labels of train: ``counts`` per label (or entity type),
        at least two; ``items`` records, ``empty`` of them without tokens."""
        return []

    @classmethod
    def check_unseen_labels(cls, noun: str, listed: str) -> tuple[str, str]:
        """The finding for dev labels (called ``noun``) that train lacks, ``listed`` with their counts."""
        raise NotImplementedError

    @classmethod
    def read_token_lists(cls, path: str | Path, data_config: DataConfig) -> Iterator[list[str]]:
        """The token lists of a file of the task's data; labels, if any, are not read."""
        raise NotImplementedError

    @classmethod
    def describe_architecture(cls, model: dict[str, Any]) -> str:
        """The task's part of `seqtag info`'s architecture line, from a model file's ``config.model``."""
        raise NotImplementedError

    @classmethod
    def check_settings(cls, model_config: ModelConfig) -> None:
        """An InputError for model settings that are valid alone but not together for this task."""
