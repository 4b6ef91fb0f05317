#!/usr/bin/env bash
# The project's test command: lint, type-check, then the whole test suite.
# Run it from anywhere after `pip install -e '.[test]'`; extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
ruff check .
mypy
python -m pytest "$@"
