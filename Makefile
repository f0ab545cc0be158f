# The two commands of the quick start: `make run` and `make test`. Both set up what is missing first.
.PHONY: setup run test lint bench

setup:
	@scripts/setup.sh

run: setup
	@.venv/bin/catabot run

test: setup lint
	.venv/bin/python -m pytest

lint:
	.venv/bin/ruff check bot tests benchmarks
	.venv/bin/mypy

bench: setup
	.venv/bin/python -m benchmarks.retrieval
