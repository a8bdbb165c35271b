#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite (lint + pytest, including the tests
# against a real PostgreSQL at TEST_DATABASE_URL, default postgres@127.0.0.1:5432).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
pytest "$@"
