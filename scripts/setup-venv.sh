#!/usr/bin/env bash
# Create .venv (Python 3.11) if missing and install the project into it. Idempotent.
# Usage: source-free; call as `bash scripts/setup-venv.sh [extra]` where extra is e.g. "dev".
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for cand in python3.11 python3; do
    if command -v "$cand" >/dev/null 2>&1; then PY="$cand"; break; fi
  done
fi
"$PY" -c 'import sys; assert sys.version_info >= (3, 11), "Python 3.11+ is required"'
[ -x .venv/bin/python ] || "$PY" -m venv .venv
extra="${1:-}"
spec="."
[ -n "$extra" ] && spec=".[${extra}]"
stamp=".venv/.installed-${extra:-base}"
if [ ! -f "$stamp" ] || [ requirements.txt -nt "$stamp" ] || [ requirements-dev.txt -nt "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip >/dev/null
  .venv/bin/python -m pip install -q -e "$spec"
  touch "$stamp"
fi
