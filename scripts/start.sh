#!/usr/bin/env bash
# Installs the assistant and starts the main job, fully offline on the embedded defaults:
# builds the index and the demo accounts if missing, then serves the Gradio page.
# Usage: bash scripts/start.sh [--host 127.0.0.1] [--port 7860]
# The index, the trained classifier and the demo database go to the user's data folder (`bnpl-assistant --help`
# prints it), not into this checkout: `bnpl-assistant ask` then finds them from any folder. Export
# BNPL_DATA_DIR before running this to keep them elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/venv.sh ""
exec .venv/bin/bnpl-assistant serve "$@"
