#!/usr/bin/env bash
# The whole test suite on a fresh machine: set up, install the integration components, run pytest.
# Extra arguments go to pytest (e.g. scripts/test.sh -m "not slow" for a quick run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/install-system.sh
exec .venv/bin/python -m pytest "$@"
