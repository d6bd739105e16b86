"""Ensembles (`seqtag train --seeds N --ensemble`, `seqtag ensemble A B …`): several runs of one training as
ONE model file that predicts with the members' mean scores: a tagger Viterbi-decodes the mean emissions with
the mean CRF transitions, a classifier averages probabilities. Brute-force oracles, file round trips, and
the command line's errors."""
from __future__ import annotations

import copy
import itertools
import json

import pytest
import torch
from typer.testing import CliRunner

import seqtag
from seqtag.cli import app
from seqtag.models.ensemble import EnsembleNet

runner = CliRunner()
TINY = ("--epochs", "1", "--hidden", "8", "--char-hidden", "8", "--lr", "0.02", "--batch-size", "32")
TOKEN_LISTS = [["a", "b", "c"], ["d"], ["b", "a", "d", "c"], ["c", "c"]]


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def perturbed(model, seed: int):
    """A copy of ``model`` with every weight moved at random (another "run" over the same vocabularies)."""
    other = copy.deepcopy(model)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for parameter in other.net.parameters():
            parameter.add_(3 * torch.randn(parameter.shape, generator=gen, dtype=parameter.dtype))
    return other


def best_path_by_enumeration(members, tokens: list[str]) -> tuple[int, ...]:
    """The highest-scoring allowed tag sequence under the members' mean emissions and mean transitions,
    computed from each member separately (float64, every sequence enumerated)."""
    with torch.inference_mode():
        emissions = torch.stack([m.net.emissions(m.collate([tokens]))[0].double() for m in members]).mean(0)
    crfs = [m.net.crf for m in members]
    mean = {name: torch.stack([getattr(c, name).detach().double() for c in crfs]).mean(0)
            for name in ("transitions", "start_transitions", "end_transitions")}
    crf = crfs[0]
    best, best_score = None, float("-inf")
    for path in itertools.product(range(emissions.shape[1]), repeat=len(tokens)):
        if not (crf.allowed_start[path[0]] and crf.allowed_end[path[-1]]
                and all(crf.allowed_transitions[a, b] for a, b in zip(path, path[1:]))):
            continue
        score = mean["start_transitions"][path[0]] + mean["end_transitions"][path[-1]]
        score += sum(emissions[t, y] for t, y in enumerate(path)) + sum(mean["transitions"][a, b] for a, b in zip(path, path[1:]))
        if score > best_score:
            best, best_score = path, float(score)
    return best


@pytest.mark.parametrize("members", [2, 3])
def test_crf_ensemble_decodes_the_best_path_of_the_mean_scores(random_tagger, members):
    first = random_tagger("crf", "bioes", "iob2")
    models = [first] + [perturbed(first, seed) for seed in range(1, members)]
    ensemble = type(first).ensemble(models)
    assert ensemble.members == members and isinstance(ensemble.net, EnsembleNet)
    with torch.inference_mode():
        paths = ensemble.net.decode(ensemble.collate(TOKEN_LISTS))
    for tokens, path in zip(TOKEN_LISTS, paths):
        assert tuple(path) == best_path_by_enumeration(models, tokens)
    # the members disagree somewhere, or the test could not tell the mean from any one member
    singles = [m.predict(TOKEN_LISTS) for m in models]
    assert any(a != b for a, b in itertools.combinations(singles, 2))


def test_softmax_ensemble_takes_the_argmax_of_the_mean_emissions(random_tagger):
    first = random_tagger("softmax", "iob2", "iob2")
    second = perturbed(first, 7)
    ensemble = type(first).ensemble([first, second])
    with torch.inference_mode():
        batch = first.collate(TOKEN_LISTS)
        mean = (first.net.emissions(batch) + second.net.emissions(batch)) / 2
        expected = [row[:len(tokens)] for row, tokens in zip(mean.argmax(2).tolist(), TOKEN_LISTS)]
        assert ensemble.net.decode(ensemble.collate(TOKEN_LISTS)) == expected


def test_classifier_ensemble_averages_probabilities(tmp_path, sample_dir):
    paths = [tmp_path / f"cls{seed}.seqtag" for seed in (1, 2)]
    for seed, path in zip((1, 2), paths):
        seqtag.train(sample_dir / "cls" / "train.tsv", output=path, seed=seed, epochs=1, hidden=8, char_encoder="none")
    members = [seqtag.load(p) for p in paths]
    ensemble = seqtag.ensemble(paths)
    texts = [["stocks", "fell", "sharply"], ["the", "team", "won", "the", "final"]]
    with torch.inference_mode():
        probabilities = [m.net.probabilities(m.collate(texts)) for m in members]
        torch.testing.assert_close(ensemble.net.probabilities(ensemble.collate(texts)), sum(probabilities) / 2)
    assert ensemble.members == 2


def test_trained_ensemble_file_round_trips_with_the_pretrained_rows_once(tmp_path, data_dir, sample_vectors):
    out = tmp_path / "ens.seqtag"
    result = run("train", "--train", data_dir / "train.txt", "--dev", data_dir / "dev.txt", "--embeddings", sample_vectors,
                 "--seeds", "2", "--ensemble", "--output", out, *TINY)
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("seed 1\tdev ") and lines[1].startswith("seed 2\tdev ")
    assert lines[-1].startswith("ensemble\tdev ")
    loaded = seqtag.load(out)
    assert loaded.members == 2
    assert [m["seed"] for m in loaded.meta["members"]] == [1, 2]
    assert f"{100 * loaded.meta['dev_scores']['score']:.2f}" == lines[-1].split()[-1]
    body = torch.load(out, weights_only=True)
    assert body["members"] == 2
    frozen = [name for name in body["state_dict"] if "extra_words" in name]
    assert frozen and all(name.startswith("members.0.") for name in frozen)  # one copy, the first member's
    assert loaded.net.members[1].encoder.extra_words is loaded.net.members[0].encoder.extra_words
    loaded.net.double()  # converting buffers one by one (as .to(device) does) must not untie them
    assert loaded.net.members[1].encoder.extra_words is loaded.net.members[0].encoder.extra_words
    assert loaded.net.members[0].encoder.extra_words.shape[0] > 0  # sample vectors beyond the training words
    # the file predicts as the evaluation scored it on dev
    scored = json.loads(run("evaluate", out, data_dir / "dev.txt", "--format", "json").stdout)
    assert scored["score"] == pytest.approx(loaded.meta["dev_scores"]["score"])
    info = json.loads(run("info", out, "--format", "json").stdout)
    assert info["architecture"].startswith("ensemble of 2") and len(info["members"]) == 2


def test_ensemble_command_matches_training_with_ensemble(tmp_path, data_dir):
    singles = []
    for seed in (1, 2):
        path = tmp_path / f"m{seed}.seqtag"
        assert run("train", "--train", data_dir / "train.txt", "--dev", data_dir / "dev.txt", "--seed", seed,
                   "--output", path, *TINY).exit_code == 0
        singles.append(path)
    combined = tmp_path / "combined.seqtag"
    result = run("ensemble", *singles, "--output", combined, "--dev", data_dir / "dev.txt")
    assert result.exit_code == 0, result.output
    trained = tmp_path / "trained.seqtag"
    assert run("train", "--train", data_dir / "train.txt", "--dev", data_dir / "dev.txt", "--seeds", "2", "--ensemble",
               "--output", trained, *TINY).exit_code == 0
    sentences = [line.split()[0] for line in (data_dir / "test.txt").read_text().splitlines() if line.strip()][:200]
    assert seqtag.load(combined).predict([sentences]) == seqtag.load(trained).predict([sentences])
    assert result.stdout.strip() == f"ensemble\tdev {100 * seqtag.load(trained).meta['dev_scores']['score']:.2f}"
    # the dev file is read in the members' tag scheme: one whose tags alone say nothing of it (no entities)
    # is scored as `seqtag evaluate` scores it
    plain = tmp_path / "no-entities.txt"
    plain.write_text("".join(f"{line.split()[0]} O\n" if line.strip() else "\n"
                             for line in (data_dir / "dev.txt").read_text().splitlines()[:300]))
    scored = tmp_path / "scored.seqtag"
    assert run("ensemble", *singles, "--output", scored, "--dev", plain).exit_code == 0
    evaluated = json.loads(run("evaluate", scored, plain, "--format", "json").stdout)
    assert seqtag.load(scored).meta["dev_scores"]["score"] == pytest.approx(evaluated["score"])


def test_ensemble_errors_name_the_file_and_option(tmp_path, data_dir, sample_dir, one_error_line):
    a, b, wide = tmp_path / "a.seqtag", tmp_path / "b.seqtag", tmp_path / "wide.seqtag"
    for path, extra in ((a, ()), (b, ("--seed", "2")), (wide, ("--word-dim", "12"))):
        assert run("train", "--train", data_dir / "train.txt", "--output", path, *TINY, *extra).exit_code == 0
    classifier = tmp_path / "cls.seqtag"
    seqtag.train(sample_dir / "cls" / "train.tsv", output=classifier, epochs=1, hidden=8, char_encoder="none")
    both = tmp_path / "both.seqtag"
    assert run("ensemble", a, b, "-o", both).exit_code == 0
    one_error_line(run("ensemble", a, wide, "-o", tmp_path / "x.seqtag"), "wide.seqtag", "other model settings", "a.seqtag")
    one_error_line(run("ensemble", a, classifier, "-o", tmp_path / "x.seqtag"), "cls.seqtag", "classify", "tag")
    one_error_line(run("ensemble", both, a, "-o", tmp_path / "x.seqtag"), "both.seqtag", "ensemble already")
    one_error_line(run("ensemble", a, "-o", tmp_path / "x.seqtag"), "2 or more")
    one_error_line(run("ensemble", a, b, "-o", both), "both.seqtag", "--force")
    one_error_line(run("train", "--train", data_dir / "train.txt", "--ensemble", "-o", tmp_path / "y.seqtag"), "--ensemble", "--seeds")
    one_error_line(run("train", "--train", data_dir / "train.txt", "--init-from", both, "-o", tmp_path / "y.seqtag"),
                   "--init-from", "ensemble")


def test_multilabel_ensemble_starts_from_the_mean_thresholds():
    from seqtag.tasks.multilabel import MultiLabel

    extras = [{"thresholds": {"x": 0.2, "y": 0.5}}, {"thresholds": {"x": 0.4, "y": 0.9}}]
    assert MultiLabel.combined_extra(extras)["thresholds"] == pytest.approx({"x": 0.3, "y": 0.7})


def test_ensemble_net_refuses_to_train_and_mixed_members(random_tagger):
    first = random_tagger("crf", "bioes", "iob2")
    net = EnsembleNet([first.net, perturbed(first, 3).net])
    with pytest.raises(ValueError, match="not trained as a whole"):
        net.loss(first.collate(TOKEN_LISTS))
    with pytest.raises(ValueError, match="2 or more"):
        EnsembleNet([first.net])
