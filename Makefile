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


.PHONY: iam-coverage iam-permissions
.PHONY: help venv lock package test test-slow lint fmt pr demo clean tf-venv lock-tf tf-check tf-check-if-available tf-smoke plan apply

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

# The suite records every AWS call the functions, the orchestrator and the state machine make
# (localmode/aws_calls.py); the IAM coverage check then judges each against the policies
# tf-check rendered for each environment.
AWS_CALLS := out/iam/calls.json
TF_AVAILABLE = command -v terraform >/dev/null 2>&1 && [ -d $(TF_PLUGIN_DIR)/registry.terraform.io/hashicorp/aws ]

# tf-check runs beside the suite, niced (pytest keeps about one core busy, terraform the other);
# its output is shown when both have ended, and either failing fails the target.
test: $(STAMP) ## run tf-check, the test suite (unit, property, integration) and the IAM coverage check, as CI does
	@rm -f $(AWS_CALLS); mkdir -p out
	@nice -n 15 $(MAKE) --no-print-directory tf-check-if-available > out/tf-check.log 2>&1 & tf_check=$$!; \
	ALBUMS_AWS_CALLS_OUT=$(AWS_CALLS) $(VPY) -m pytest -m "not slow" -p no:cacheprovider && tests=0 || tests=$$?; \
	wait $$tf_check && checks=0 || checks=$$?; \
	echo "==> make tf-check (ran beside the tests)"; cat out/tf-check.log; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; \
	if [ $$checks -ne 0 ]; then echo "tf-check: FAILED (above)"; exit $$checks; fi
	@if $(TF_AVAILABLE); then \
		$(MAKE) --no-print-directory iam-coverage; \
	else \
		echo "iam-coverage: SKIPPED: terraform or the provider mirror $(TF_PLUGIN_DIR) is missing, so no environment was rendered"; \
	fi

iam-coverage: $(STAMP) ## judge the calls the last make test recorded against the IAM policies tf-check rendered (dev, prod)
	$(VPY) scripts/iam_coverage.py --calls $(AWS_CALLS)

iam-permissions: $(STAMP) ## rewrite terraform/required_permissions.json (what albums preflight simulates) from the last make test
	$(VPY) scripts/iam_coverage.py --calls $(AWS_CALLS) --write

test-slow: $(STAMP) ## the property tests at full strength: 100 examples for the durable ones too
	DURABLE_PROPERTY_EXAMPLES=100 $(VPY) -m pytest -m "slow or property" -p no:cacheprovider

lint: $(STAMP) security ## ruff (lint + format check), mypy --strict and bandit on our code
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

fmt: $(STAMP) ## apply ruff's formatter and safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

pr: lint test package ## every check, as before a pull request

UPLOADS ?= 5
demo: $(STAMP) ## run the main job locally: UPLOADS sample photos through both patterns; report in out/demo
	$(VENV)/bin/albums demo --uploads $(UPLOADS) --out out/demo

clean: ## remove build outputs and caches (keeps the virtual environment)
	rm -rf dist build out .pytest_cache .mypy_cache .ruff_cache .hypothesis

# --- Terraform (issue 5) ---
# checkov and python-hcl2 live in their own venv with their own lock, so checkov's pins never
# touch requirements-dev.txt. Offline checks run terraform against the provider mirror only.
VENV_TF := .venv-tf
STAMP_TF := $(VENV_TF)/.installed
TF_PLUGIN_DIR ?= /opt/tf-plugins
ENV ?= dev
TF_ENV_DIR = terraform/environments/$(ENV)
ARTIFACTS ?= $(CURDIR)/dist

$(STAMP_TF): requirements-tf.txt
	@echo "==> creating $(VENV_TF) from requirements-tf.txt ($(PYTHON))"
	rm -rf $(VENV_TF)
	$(PYTHON) -m venv $(VENV_TF)
	$(VENV_TF)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-tf.txt
	touch $(STAMP_TF)

tf-venv: $(STAMP_TF) ## create .venv-tf (checkov, python-hcl2) from requirements-tf.txt

lock-tf: $(STAMP) ## regenerate requirements-tf.txt (needs the package index)
	$(PIP_COMPILE) -o requirements-tf.txt requirements-tf.in

tf-check: $(STAMP) $(STAMP_TF) ## offline: fmt, hcl2 contract, checkov, validate, render dev/prod as deployed (policies, statelint), terraform test
	TF_PLUGIN_DIR=$(TF_PLUGIN_DIR) $(VPY) scripts/tf_check.py

# `make test` runs tf-check where terraform and the provider mirror exist, else says why not.
tf-check-if-available: $(STAMP)
	@if $(TF_AVAILABLE); then \
		$(MAKE) --no-print-directory tf-check; \
	else \
		echo "tf-check: SKIPPED: terraform or the provider mirror $(TF_PLUGIN_DIR) is missing"; \
	fi

tf-smoke: $(STAMP) ## apply, re-plan and destroy the dev environment against a local moto server
	TF_PLUGIN_DIR=$(TF_PLUGIN_DIR) $(VPY) scripts/tf_smoke.py

# Real deploys (provider >= 6.25 from the registry). The backend comes from backend.hcl
# next to the environment (copy backend.hcl.example); ARTIFACTS is a `make package` output.
plan: ## terraform plan ENV=dev|prod with ARTIFACTS=dist (writes terraform/environments/ENV/tfplan)
	@test -f $(ARTIFACTS)/manifest.json || { echo "no $(ARTIFACTS)/manifest.json: run make package"; exit 1; }
	@test -f $(TF_ENV_DIR)/backend.hcl || { echo "no $(TF_ENV_DIR)/backend.hcl: copy backend.hcl.example"; exit 1; }
	terraform -chdir=$(TF_ENV_DIR) init -input=false -backend-config=backend.hcl
	terraform -chdir=$(TF_ENV_DIR) plan -input=false -var=artifacts_dir=$(ARTIFACTS) -out=tfplan

apply: ## terraform apply ENV=dev|prod of the plan written by `make plan`
	terraform -chdir=$(TF_ENV_DIR) apply -input=false tfplan

# --- bench (issue 6) ---
.PHONY: bench
bench: $(STAMP) package ## measure both patterns locally, handler imports, dist/ sizes vs goals; out/bench/results.json
	$(VPY) -m albums_cli.bench --dist dist --out out/bench

# --- validation (issue 7) ---
.PHONY: test-browser
test-browser: $(STAMP) ## the validation page in headless Chromium (needs /usr/bin/chromium); writes out/validation-page.png
	$(VPY) -m pytest -m browser -p no:cacheprovider -rs

# --- security (issue 8) ---
.PHONY: security
security: $(STAMP) ## bandit over our code (bandit.yaml: nothing skipped; exceptions are per-line `# nosec BXXX  # reason`)
	$(VENV)/bin/bandit -c bandit.yaml -q -r shared_layer functions orchestrator localmode albums_cli scripts

# --- load (issue 8) ---
.PHONY: load
LOAD_UPLOADS ?= 100
load: $(STAMP) ## LOAD_UPLOADS (100) uploads at once through both patterns locally; fails on anything lost, duplicated or stuck; out/load/results.json
	$(VPY) -m localmode.load --uploads $(LOAD_UPLOADS) --out out/load
