#!/usr/bin/env bash
# The project's tool venv with pinned tools: .venv links to a venv in the
# tools cache named by the hash of requirements-dev.txt and constraints.txt,
# so re-runs and clean clones skip the install while the pins are unchanged.
source "$(dirname "$0")/lib.sh"

command -v python3 >/dev/null || apt_install python3
want=$(cat "$ROOT/requirements-dev.txt" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)
if venv_cached tools "$want" "$VENV"; then
  log "venv $VENV up to date ($(readlink "$VENV"))"
  exit 0
fi
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || log "warning: python3 is $(python3 -V); the pins are made for Python 3.11"
log "installing pinned tools into $(readlink "$VENV")"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  -r "$ROOT/requirements-dev.txt" -c "$ROOT/constraints.txt"
venv_complete "$VENV"
