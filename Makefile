# The two commands of the quick start: `make run` and `make test`. Both set up what is missing first.
# `make test-fast` is for local loops: the same checks without the tests marked slow (see pyproject.toml).
.PHONY: setup run test test-fast lint bench

setup:
	@scripts/setup.sh

run: setup
	@.venv/bin/catabot run

test: setup lint
	.venv/bin/python -m pytest

test-fast: setup lint
	.venv/bin/python -m pytest -m "not slow"

lint:
	.venv/bin/ruff check bot tests benchmarks
	.venv/bin/mypy

bench: setup
	.venv/bin/python -m benchmarks.retrieval
