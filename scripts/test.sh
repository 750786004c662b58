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
# The first pass built the index from scratch (and tested that); this pass starts from its built data directory,
# which saves a second cold ingest. pytest-current is re-pointed when the next run starts: resolve it now.
if [ -z "${BNPL_TEST_PREBUILT:-}" ]; then
  built="$(.venv/bin/python -c "import getpass, os, tempfile; print(os.path.realpath(os.path.join( \
tempfile.gettempdir(), 'pytest-of-' + getpass.getuser(), 'pytest-current')))")/built0"
  if [ -d "$built/index" ] && [ -d "$built/cache" ]; then export BNPL_TEST_PREBUILT="$built"; fi
  echo "starting from ${BNPL_TEST_PREBUILT:-a cold ingest}"
fi
BNPL_TEST_DATABASE=postgresql .venv/bin/python -m pytest -q -m database
