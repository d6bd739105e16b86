"""One entry point for labelled / unlabelled token files, chosen by ``DataConfig.input_format``."""
from __future__ import annotations

from collections.abc import Iterator

from seqtag.config import DataConfig
from seqtag.formats.columns import Source, read_columns
from seqtag.formats.conllu import read_conllu
from seqtag.data.sentence import Sentence


def column_format(source: Source, config: DataConfig) -> str:
    """conll or conllu: as configured, else by the file name (``.conllu`` means CoNLL-U)."""
    if config.input_format in ("conll", "conllu"):
        return config.input_format
    return "conllu" if str(source).endswith(".conllu") else "conll"


def read_sentences(source: Source, config: DataConfig, with_tags: bool = True) -> Iterator[Sentence]:
    """Stream sentences from a CoNLL column file or a CoNLL-U file."""
    if column_format(source, config) == "conllu":
        for sentence in read_conllu(source, field=config.conllu_field, encoding=config.encoding):
            if not with_tags:
                sentence.tags = None
            yield sentence
    else:
        yield from read_columns(
            source,
            token_column=config.token_column,
            tag_column=config.tag_column,
            encoding=config.encoding,
            with_tags=with_tags,
        )
