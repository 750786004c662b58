#!/usr/bin/env bash
# Installs what the tests need (venv, the package with its test extras, Debian's chromium for the page
# tests) and runs the whole suite: ruff, mypy and pytest. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh "[test]"
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; browser tests will be skipped" >&2
fi
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/mypy src tests scripts
set +e
.venv/bin/python -m pytest -q "$@"
code=$?
set -e
if [ "$code" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
exit "$code"
