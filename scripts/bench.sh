#!/usr/bin/env bash
# Runs bench/run.py with a redis-server from Debian on loopback (installed if
# missing). Arguments pass through (--quick for the smoke run).
source "$(dirname "$0")/lib.sh"
"$ROOT/scripts/ensure-redis.sh"
# Debian starts a system redis on 6379 when it installs it; the bench uses
# its own on another port and leaves that one alone.
exec "$VENV/bin/python" "$ROOT/bench/run.py" "$@"
