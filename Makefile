# Album Registration — every command a developer or CI needs. `make help` lists them.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
VPY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIP_COMPILE := $(VENV)/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links
FUNCTION_LOCKS := $(patsubst %/requirements.in,%/requirements.txt,$(wildcard functions/*/requirements.in orchestrator/requirements.in))

.PHONY: help venv lock package test test-slow lint fmt pr demo clean

help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

# The virtual environment is rebuilt whenever the lock file or pyproject changes.
$(STAMP): requirements-dev.txt pyproject.toml
	@echo "==> creating $(VENV) from requirements-dev.txt ($(PYTHON))"
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install --quiet --require-hashes --no-deps -r requirements-dev.txt
	$(VPY) -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

venv: $(STAMP) ## create the virtual environment from the lock file (done by every target that needs it)

lock: $(STAMP) ## regenerate every lock file from its requirements.in (needs the package index)
	$(PIP_COMPILE) -o shared_layer/requirements.txt shared_layer/requirements.in
	$(PIP_COMPILE) -o requirements-dev.txt requirements-dev.in
	@for f in $(FUNCTION_LOCKS); do $(PIP_COMPILE) -o $$f $${f%.txt}.in; done

package: $(STAMP) ## build dist/: one zip per function, the orchestrator, the layer, and manifest.json
	$(VPY) scripts/package.py --dist dist

test: $(STAMP) ## run the test suite (unit, property, integration) that CI runs
	$(VPY) -m pytest -m "not slow" -p no:cacheprovider

test-slow: $(STAMP) ## run the slow suites kept out of `make test`
	$(VPY) -m pytest -m slow -p no:cacheprovider

lint: $(STAMP) ## ruff (lint + format check) and mypy --strict on our code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## apply ruff's formatter and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

pr: lint test package ## every check, as before a pull request

demo: $(STAMP) ## run the main job in local mode (see README)
	$(VPY) scripts/demo_status.py

clean: ## remove build outputs and caches (keeps the virtual environment)
	rm -rf dist build out .pytest_cache .mypy_cache .ruff_cache .hypothesis
