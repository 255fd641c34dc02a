# Two entry points for a fresh machine:
#   make demo   -> set up .venv and run the main job on the embedded default web
#   make test   -> set up .venv and run the test suite
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.araneus-installed
OUT ?= demo_out

.PHONY: venv demo demo-quick test test-slow lint bench clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned, so pip takes the local CPU wheel and never resolves a CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[test]" torch==2.13.0
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/araneus demo --out $(OUT)

demo-quick: $(STAMP)
	$(VENV)/bin/araneus demo --quick --out $(OUT)

test: $(STAMP)
	$(PY) -m pytest -q -n 2 --dist loadfile

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts

clean:
	rm -rf $(VENV) $(OUT) .pytest_cache .ruff_cache
