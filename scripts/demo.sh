#!/usr/bin/env bash
# Set up a fresh machine and start the dashboard on the embedded SQLite database with demo data.
# Extra arguments go to `xiaoneng serve` (e.g. --port 8600).
#
# The demo runs on a database of its own (data/demo.db unless DATABASE_URL is set), created
# here with `init-db --demo`: only such a database may hold the demo accounts, whose password
# is published, and `init-db --demo` refuses a database it did not create. The product's own
# default database (data/xiaoneng.db) is never touched by the demo.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup-venv.sh
# CJK fonts and pango for the PDF bulletin (apt-get when missing; the app runs without them,
# only the PDF download then fails with a message).
bash scripts/ensure-report-tools.sh || echo "demo: PDF bulletins need the packages above" >&2
export PATH="$PWD/.venv/bin:$PATH"
export DATABASE_URL="${DATABASE_URL:-sqlite:///data/demo.db}"
xiaoneng init-db --demo
xiaoneng generate --if-empty --cases "${DEMO_CASES:-200000}"
if xiaoneng --help | grep -q " compute "; then xiaoneng compute --all --if-stale; fi
# Demo sign-in: every session starts signed in as a demo leader (XIAONENG_DEMO=1; never set it
# on a server with real data); after 退出登录 the login page lists the demo accounts of the other
# roles (password xiaoneng-demo), created here. Without XIAONENG_DEMO=1 they are refused.
xiaoneng accounts demo
export XIAONENG_DEMO=1
exec xiaoneng serve "$@"
