#!/usr/bin/env bash
# A venv with kubernetes-validate (the Kubernetes API schemas of pinned
# versions) and checkov (policy scanner) for the kubernetes scenario.
# Skipped while the pins are unchanged.
source "$(dirname "$0")/lib.sh"

tools="$CACHE/k8s-tools"
stamp="$tools/.celeryops-requirements.sha256"
want=$(cat "$ROOT/requirements-k8s-tools.txt" "$ROOT/constraints-k8s-tools.txt" | sha256sum | cut -d' ' -f1)
if [ -x "$tools/bin/checkov" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "k8s tools $tools up to date"
  exit 0
fi
python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
rm -rf "$tools"
python3 -m venv "$tools"
log "installing kubernetes-validate and checkov into $tools"
"$tools/bin/pip" install -q --disable-pip-version-check \
  -r "$ROOT/requirements-k8s-tools.txt" -c "$ROOT/constraints-k8s-tools.txt"
echo "$want" >"$stamp"
