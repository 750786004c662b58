#!/usr/bin/env bash
# Installs the assistant and starts the main job, fully offline on the embedded defaults:
# builds the index and the demo accounts if missing, then serves the Gradio page.
# Usage: bash scripts/start.sh [--host 127.0.0.1] [--port 7860]
set -euo pipefail
cd "$(dirname "$0")/.."
export GRADIO_ANALYTICS_ENABLED=False HF_HUB_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 ANONYMIZED_TELEMETRY=False
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e .
exec .venv/bin/bnpl-assistant serve "$@"
