# Set-up and everyday commands. `make demo` and `make test` are all a new machine needs.
PYTHON ?= python3
VENV ?= .venv
TORCH ?= torch==2.13.0
BIN := $(VENV)/bin
SEQTAG := $(BIN)/seqtag
DEMO := demo-output

.PHONY: install browser test test-slow demo sample-data clean

# The venv is rebuilt when pyproject.toml changes. torch is pinned here (the package only asks for
# torch>=2.2) so pip takes the CPU wheel instead of a multi-GB CUDA build.
$(BIN)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet "$(TORCH)"
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(BIN)/.installed

# The browser tests (tests/test_serve_live.py) drive Debian's chromium through its chromedriver, never a browser
# downloaded at run time. Installed only when missing, and only as root with apt-get (as CI runs); elsewhere
# the tests skip and say why. A failed install stops the run rather than silently skipping them.
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium and chromium-driver for the browser tests (apt-get, once)"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null \
	      || { echo "apt-get could not install chromium"; exit 1; }; \
	  else \
	    echo "no chromium here: the browser tests will skip (as root: apt-get install chromium chromium-driver)"; \
	  fi; \
	fi

test: install browser
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
