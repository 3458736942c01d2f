# Two commands do all the set-up: `make run` (index the bundled article, serve the chat)
# and `make test` (install test tools and a browser, run linters and the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run test lint bench bench-scale install browser clean

run: $(VENV)/.installed
	$(BIN)/papertrail serve

test: $(VENV)/.installed-test browser
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest

lint: $(VENV)/.installed-test
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	# torch first and pinned: this takes the CPU build; an unpinned torch pulls CUDA.
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

# Debian's Chromium for the browser tests (Playwright drives it; it downloads no browser).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium is missing: run 'sudo apt-get install chromium' for the browser tests" >&2; exit 1; fi; }

# The README's benchmark table: COVID-QA test and PubMedQA test, every system (long).
bench: $(VENV)/.installed-test
	$(BIN)/python -m eval.bench --out eval-out/bench

# The README's scale table: k x 98 COVID-QA articles, k = 1, 4, 10 (about an hour with a
# baseline). BASELINE=DIR runs another source tree side by side (git worktree add DIR main).
bench-scale: $(VENV)/.installed-test
	$(BIN)/python -m eval.bench_scale --k 1 4 10 --out eval-out/scale --readme README.md \
	  $(if $(BASELINE),--baseline $(BASELINE))

clean:
	rm -rf $(VENV) .papertrail artifacts
