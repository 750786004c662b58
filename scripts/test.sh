#!/usr/bin/env bash
# Installs what the tests need (venv, the package with its test extras, Debian's chromium for the page
# tests, PostgreSQL and nginx for the fleet tests) and runs the whole suite: ruff, mypy, pytest, then the
# tests marked `database` again on a throwaway PostgreSQL cluster. Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh "[test]"
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing="$missing postgresql"
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$missing nginx"
if [ -n "$missing" ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null) \
    || echo "warning: could not install$missing; the tests that need them are skipped" >&2
fi
.venv/bin/ruff check src tests benchmarks scripts
.venv/bin/mypy src tests scripts
set +e
.venv/bin/python -m pytest -q "$@"
code=$?
set -e
if [ "$code" = 5 ]; then echo "pytest collected no tests: failing" >&2; exit 1; fi
if [ "$code" != 0 ] || [ "$#" != 0 ]; then exit "$code"; fi
echo "--- the tests marked 'database' again, on PostgreSQL ---"
BNPL_TEST_DATABASE=postgresql .venv/bin/python -m pytest -q -m database
