# wasmcffi — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
PY := $(abspath $(VENV))/bin/python
VENV_ENV := VIRTUAL_ENV=$(abspath $(VENV)) PATH=$(abspath $(VENV))/bin:$$PATH
# Zig builds wasi-libc once per machine (about 30 s); keep its cache between runs.
export ZIG_GLOBAL_CACHE_DIR ?= $(HOME)/.cache/wasmcffi-zig
PY_DEPS := "maturin>=1.5,<2"
# The package's extras: `build` (the wasm32 C compiler) and `test`; installed with
# the package by maturin, so that CI checks what `pip install wasmcffi[build]` gives.
EXTRAS := build,test
# Only `make bench` needs these: charts, and wasmtime-py as a point of comparison.
BENCH_DEPS := "matplotlib>=3.7" "wasmtime>=30"

.PHONY: help setup build-dev build-release demo test test-rust test-python test-realworld bench lint clean

help: ## Show this help
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(VENV)/.stamp: host-python/pyproject.toml Makefile
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(PY_DEPS)
	touch $@

setup: $(VENV)/.stamp ## Create .venv and install the Python dependencies

build-dev: setup ## Build the extension and install it into .venv (debug build)
	$(VENV_ENV) maturin develop -q -E $(EXTRAS) -m host-python/Cargo.toml

build-release: setup ## Build the extension optimised and install it into .venv
	$(VENV_ENV) maturin develop --release -q -E $(EXTRAS) -m host-python/Cargo.toml

$(VENV)/.bench-stamp: $(VENV)/.stamp
	$(PY) -m pip install -q $(BENCH_DEPS)
	touch $@

bench: build-release $(VENV)/.bench-stamp ## Run the benchmarks (BENCH="calls compute bandwidth startup --quick" picks)
	$(PY) benches/run.py $(BENCH)
	$(PY) benches/bench_callbacks.py

demo: build-dev ## Run the demo (examples/demo.py)
	$(PY) examples/demo.py

test: build-dev ## Run every Rust and Python test, then the real-world corpus
	$(MAKE) --no-print-directory test-rust test-python test-realworld

test-rust: setup ## Run the Rust tests of the core crate
	$(VENV_ENV) cargo test -p wasmcffi

test-python: ## Run the pytest suite (after build-dev)
	$(PY) -m pytest tests/python -q

test-realworld: ## Build real C libraries (pinned sdists, cached) and compare them with cffi
	$(PY) -m pytest tests/realworld -q

lint: setup ## cargo clippy and rustfmt check
	cargo clippy -p wasmcffi -p wasmcffi-python -- -D warnings
	cargo fmt --check

clean: ## Remove build outputs and .venv
	rm -rf target $(VENV)
