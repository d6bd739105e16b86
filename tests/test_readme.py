"""The README's Python examples run as written (in a scratch folder holding sample_data/ and demo models)."""
from __future__ import annotations

import contextlib
import io
import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def python_blocks(text: str) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.S | re.M)


@pytest.fixture(scope="module")
def demo_folder(tmp_path_factory):
    """What `make demo` leaves behind, trained small and fast: demo-output/ner.seqtag and cls.seqtag."""
    import seqtag

    folder = tmp_path_factory.mktemp("readme")
    (folder / "sample_data").symlink_to(ROOT / "sample_data")
    (folder / "demo-output").mkdir()
    small = dict(hidden=16, epochs=2, char_encoder="none", threads=1)
    sample = ROOT / "sample_data"
    seqtag.train(sample / "ner" / "train.txt", sample / "ner" / "dev.txt", embeddings=sample / "vectors.txt",
                 output=folder / "demo-output" / "ner.seqtag", **small)
    seqtag.train(sample / "cls" / "train.tsv", sample / "cls" / "dev.tsv", embeddings=sample / "vectors.txt",
                 output=folder / "demo-output" / "cls.seqtag", **small)
    return folder


def test_readme_has_the_python_api_examples():
    blocks = python_blocks((ROOT / "README.md").read_text(encoding="utf-8"))
    assert len(blocks) >= 4
    code = "\n".join(blocks)
    for name in ("seqtag.load(", ".pipe(", "seqtag.train(", "seqtag.evaluate(", "confidence=True"):
        assert name in code, name


def test_readme_python_examples_run(demo_folder, monkeypatch):
    monkeypatch.chdir(demo_folder)
    namespace: dict = {}
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        for block in python_blocks((ROOT / "README.md").read_text(encoding="utf-8")):
            exec(compile(block, "README.md", "exec"), namespace)  # one namespace: the blocks build on each other
    out = printed.getvalue()
    assert "expected a list of token lists" in out  # the TypeError example printed its message
    assert os.path.exists(demo_folder / "demo-output" / "api.seqtag")
    assert 0.0 <= namespace["scores"].score <= 1.0
    assert namespace["result"].path is not None
