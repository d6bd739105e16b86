# Set-up and everyday commands. `make demo` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
SEQTAG := $(BIN)/seqtag
DEMO := demo-output

.PHONY: install test test-slow demo sample-data clean

# The venv is rebuilt when pyproject.toml changes. torch is pinned here (the package only asks for
# torch>=2.2) so pip takes the CPU wheel instead of a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

test: install
	$(BIN)/python -m pytest -q

test-slow: install
	$(BIN)/python -m pytest -q -m slow

sample-data: install
	$(BIN)/python sample_data/make_sample_data.py

demo: install
	mkdir -p $(DEMO)
	@echo "== training a BiLSTM-CRF tagger on sample_data/ner (progress on stderr) =="
	$(SEQTAG) train --train sample_data/ner/train.txt --dev sample_data/ner/dev.txt \
		--embeddings sample_data/vectors.txt --epochs 15 --output $(DEMO)/ner.seqtag --force
	@echo "== evaluating on sample_data/ner/test.txt =="
	$(SEQTAG) evaluate $(DEMO)/ner.seqtag sample_data/ner/test.txt
	@echo "== tagging raw text =="
	echo "John Smith flew from Berlin to New York to meet the board of Deutsche Bank." | \
		$(SEQTAG) predict $(DEMO)/ner.seqtag - --format jsonl
	$(SEQTAG) predict $(DEMO)/ner.seqtag sample_data/raw.txt
	@echo "== training a sentence classifier on sample_data/cls =="
	$(SEQTAG) train --train sample_data/cls/train.tsv --dev sample_data/cls/dev.tsv \
		--embeddings sample_data/vectors.txt --epochs 5 --output $(DEMO)/cls.seqtag --force
	$(SEQTAG) evaluate $(DEMO)/cls.seqtag sample_data/cls/test.tsv
	printf 'The striker scored twice in the final .\nShares fell sharply after the bank cut its forecast .\n' | \
		$(SEQTAG) predict $(DEMO)/cls.seqtag - --format jsonl

clean:
	rm -rf $(DEMO) .pytest_cache build *.egg-info
