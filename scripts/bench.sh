#!/usr/bin/env bash
# The benchmark harness on a fresh machine: the virtual environment, the integration components (Virtuoso),
# Debian's wrk (the HTTP load generator the figures in docs/benchmarks.md are taken with), then
# `python -m bench` with the arguments given (e.g. scripts/bench.sh --quick, scripts/bench.sh --sizes 1M).
set -euo pipefail
cd "$(dirname "$0")/.."
EXTRAS=test,bench bash scripts/setup.sh  # py-spy: the profiles of missed targets
bash scripts/install-system.sh
if ! command -v wrk >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  echo "installing Debian packages: wrk" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends wrk >/dev/null
fi
exec .venv/bin/python -m bench "$@"
