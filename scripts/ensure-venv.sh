#!/usr/bin/env bash
# The project's tool venv (.venv) with pinned tools. Re-runs are fast: the
# install is skipped while requirements-dev.txt and constraints.txt are unchanged.
source "$(dirname "$0")/lib.sh"

stamp="$VENV/.celeryops-requirements.sha256"
want=$(cat "$ROOT/requirements-dev.txt" "$ROOT/constraints.txt" | sha256sum | cut -d' ' -f1)
if [ -x "$VENV/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "venv $VENV up to date"
  exit 0
fi
command -v python3 >/dev/null || apt_install python3
# Debian's python3 has no venv/ensurepip without python3-venv.
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
python3 -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' \
  || log "warning: python3 is $(python3 -V); the pins are made for Python 3.11"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
log "installing pinned tools into $VENV"
"$VENV/bin/pip" install -q --disable-pip-version-check \
  -r "$ROOT/requirements-dev.txt" -c "$ROOT/constraints.txt"
echo "$want" >"$stamp"
