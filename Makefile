# Two commands do all the set-up: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test up install protos protos-check bench steady audit clean lint lint-ci

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml package.json package-lock.json scripts/system-deps.sh | $(BIN)/python
	bash scripts/system-deps.sh
	$(BIN)/pip install -q --upgrade pip setuptools wheel
	$(BIN)/pip install -q -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/kinora demo

up: $(STAMP)
	$(BIN)/kinora up

# Every static check: ruff (lint rules in pyproject.toml, and `ruff format --check`), mypy (strict: kinora/runtime and the domain modules),
# import-linter's contracts, buf lint and buf breaking on protos/ (scripts/buf-breaking.sh says
# what it compares with).
lint: lint-ci

# Every static check passes on the whole tree; `make test` runs them before pytest.
lint-ci: $(STAMP)
	$(BIN)/ruff check
	$(BIN)/ruff format --check
	$(BIN)/mypy
	$(BIN)/lint-imports
	node_modules/.bin/buf lint
	bash scripts/buf-breaking.sh

test: lint-ci
	$(BIN)/pytest -q --durations=20

protos: $(STAMP)
	$(BIN)/python scripts/gen_protos.py

protos-check: $(STAMP)
	$(BIN)/python scripts/gen_protos.py --check

bench: $(STAMP)
	$(BIN)/python benchmarks/runtime_bench.py
	$(BIN)/python benchmarks/outbox_bench.py

# Feed, consent, billing and gateway benchmarks back to back, several runs each, as one markdown
# table of CPU per request and p99 (medians) with the commit measured. STEADY_ARGS=--quick: minutes.
steady: $(STAMP)
	$(BIN)/python benchmarks/steady.py $(STEADY_ARGS)

# Known vulnerabilities in the installed dependencies (pip-audit, PyPI's advisory data). Needs the
# network, so it is not part of `make test`; SECURITY.md says what to do with a finding.
audit: $(STAMP)
	@$(BIN)/pip install -q 'pip-audit>=2.7' || { echo "make audit: could not install pip-audit; it needs the network (PyPI)" >&2; exit 2; }
	$(BIN)/python scripts/audit.py

clean:
	rm -rf .kinora out
