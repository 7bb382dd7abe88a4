#!/usr/bin/env bash
# A venv with kubernetes-validate (the Kubernetes API schemas of pinned
# versions) and checkov (policy scanner) for the kubernetes scenario, in the
# tools cache by the hash of its pins (.cache/k8s-tools links to it).
source "$(dirname "$0")/lib.sh"

tools="$CACHE/k8s-tools"
want=$(cat "$ROOT/requirements-k8s-tools.txt" "$ROOT/constraints-k8s-tools.txt" | sha256sum | cut -d' ' -f1)
if venv_cached k8s-tools "$want" "$tools" && [ -x "$tools/bin/checkov" ]; then
  log "k8s tools $tools up to date"
  exit 0
fi
log "installing kubernetes-validate and checkov into $(readlink "$tools")"
"$tools/bin/pip" install -q --disable-pip-version-check \
  -r "$ROOT/requirements-k8s-tools.txt" -c "$ROOT/constraints-k8s-tools.txt"
venv_complete "$tools"
