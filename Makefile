# Two commands on a fresh machine:  make book   and   make test
# Each creates .venv (Python >= 3.11) and installs the project into it if needed.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
JB     := $(BIN)/jupyter-book

.PHONY: book test test-fast lint venv smoke clean-book notebooks

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	@touch $(STAMP)

venv: $(STAMP)

# Build the book from the committed results (no training: notebooks are rendered from stored outputs).
book: $(STAMP) _static/mathjax/tex-svg.js
	$(JB) build . -W -n --keep-going

# Lint (ruff, configured in pyproject.toml), then unit tests, nbval on every chapter, papermill smoke runs, the
# book build and a headless-browser check.
test: lint $(STAMP) _static/mathjax/tex-svg.js
	CI=1 $(BIN)/python -m pytest -q tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

# The tests not marked slow (no notebooks, no book build, no end-to-end sweeps): 1.5-3 min on 2 cores.
test-fast: $(STAMP)
	CI=1 $(BIN)/python -m pytest -q -m "not slow" tests; rc=$$?; if [ $$rc -eq 5 ]; then echo "no tests collected"; exit 1; fi; exit $$rc

lint: $(STAMP)
	$(BIN)/ruff check src tests scripts

# MathJax is vendored (the book must render math offline); fetched from npm once if missing.
_static/mathjax/tex-svg.js:
	@mkdir -p _static/mathjax
	cd /tmp && rm -rf lbgap-mathjax && mkdir lbgap-mathjax && cd lbgap-mathjax && npm install --silent --no-audit --no-fund mathjax@3 >/dev/null
	cp /tmp/lbgap-mathjax/node_modules/mathjax/es5/tex-svg.js $@

# Re-execute the front page and every chapter in place in "results" mode (from the committed records), so the
# stored outputs that `make book` renders and nbval checks follow from the records. Run after records change.
NOTEBOOKS := intro.ipynb $(sort $(wildcard chapters/*.ipynb))
notebooks: $(STAMP)
	@for nb in $(NOTEBOOKS); do echo "executing $$nb"; \
	  $(BIN)/jupyter execute --inplace --timeout=3600 --NotebookClient.record_timing=False $$nb || exit 1; done

smoke: $(STAMP)
	$(BIN)/lbgap sweep table2 --profile smoke --seeds 0 --results-dir /tmp/lbgap-smoke

clean-book:
	rm -rf _build
