#!/usr/bin/env bash
# The main job: set up, build the store from the curated KB, and serve it with gunicorn.
# Settings come from KB_* variables (see README); e.g. KB_PORT=8080 KB_STORE=./var/store scripts/serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS= bash scripts/setup.sh
export KB_STORE=${KB_STORE:-$PWD/var/store}
export KB_HOST=${KB_HOST:-127.0.0.1}
export KB_PORT=${KB_PORT:-8080}
.venv/bin/kb load
exec .venv/bin/kb serve --gunicorn --no-load "$@"
