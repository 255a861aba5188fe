# Every target runs through uv with the committed lock file.
UV ?= uv
export UV_FROZEN := 1

.PHONY: install run test unit integration lint eval bench bench-model bench-listing bench-build bench-draft bench-batches

install:  ## install uv if missing, then the locked dependencies (builds llama.cpp once, every CPU variant)
	@command -v $(UV) >/dev/null 2>&1 || python3 -m pip install --quiet uv
	$(UV) sync

run: install  ## start the API on http://127.0.0.1:8000 with the bundled model
	$(UV) run incident-summarizer serve

test: install  ## unit tests, then the integration tests on the real bundled model
	$(UV) run pytest -m "not integration"
	$(UV) run pytest -m integration

unit: install
	$(UV) run pytest -m "not integration"

integration: install
	$(UV) run pytest -m integration

lint: install
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy service schemas

eval: install  ## make eval DATASET=path/to/labelled.jsonl
	$(UV) run incident-summarizer eval $(DATASET)

bench: install  ## service benchmarks (scripted model); bundled model vs a bare llama.cpp call
	$(UV) run python -m bench
	$(UV) run python -m bench.bundled_model --dataset $(DATASET)

bench-model: install  ## memory and start-up with the bundled model loaded
	$(UV) run python -m bench --with-model

bench-listing: install  ## list and search at 100,000 records, SQLite and PostgreSQL (SUMMARIZER_TEST_POSTGRES_URL or 127.0.0.1:5432)
	$(UV) run python -m bench.listing

bench-batches: install  ## one batch of 10,000 articles: 1, 2 and 4 PostgreSQL workers (SUMMARIZER_TEST_POSTGRES_URL or 127.0.0.1:5432), then SQLite in-process
	$(UV) run python -m bench.batch_throughput

bench-build: install  ## this llama.cpp build against a native one: make bench-build NATIVE_PYTHON=/tmp/native/bin/python
	$(UV) run python -m bench.llama_build --native-python $(NATIVE_PYTHON) --write BENCHMARKS.md

bench-draft: install  ## the record answer with and without draft tokens on the bundled model
	$(UV) run python -m bench.draft_tokens --dataset $(DATASET) --write BENCHMARKS.md
