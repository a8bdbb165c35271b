#!/usr/bin/env bash
# Set up a fresh machine and run the whole test suite (lint + pytest, including the tests
# against a real PostgreSQL at TEST_DATABASE_URL, default postgres@127.0.0.1:5432).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh dev
# Debian packages the browser test and the PDF bulletin need (chromium, CJK fonts, pango,
# poppler); installed with apt-get when missing.
bash scripts/ensure-browser.sh
bash scripts/ensure-report-tools.sh
export PATH="$PWD/.venv/bin:$PATH"
ruff check .
pytest "$@"
