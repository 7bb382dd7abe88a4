#!/usr/bin/env bash
# `make break-checks`: shows that the scenarios' checks of README claims
# fail when the behaviour they name is broken. For each scenario: converge
# once, run molecule/<scenario>/breaks.yml as the verify playbook unbroken
# (every check must pass), then once per break (CELERYOPS_BREAK): the run
# must fail, and fail in the task that names the behaviour. Prints one line
# per break; exits 1 when a break passes or fails elsewhere.
# BREAK_SCENARIOS="compose" runs one scenario only.
source "$(dirname "$0")/lib.sh"

# scenario break -> the task that must fail
declare -A expect=(
  [systemd:flower_not_persistent]="The task from before the restart is still in Flower's history"
  [systemd:env_unchanged]="Every group restarted for the shared environment"
  [systemd:drop_skipped]="The dropped group's instances are stopped and its files and links gone"
  [compose:label_changed]="Count the Celery containers the checks below see"
  [compose:secret_unchanged]="Every Celery container was recreated; the broker was not"
  # services.yml waits for the project to have the count without the group.
  [compose:drop_skipped]="Wait for every container to be healthy"
)
# The task of the first failure in a Molecule log: the last TASK line before
# it. Molecule decorates Ansible's lines (colours, a box-drawing prefix) and
# wraps long ones, so a TASK line runs on until its closing bracket.
failed_task() {
  sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^ *│ *//' "$1" | awk '
    open { task = task " " $0; if (task ~ /\]/) { open = 0; sub(/\].*$/, "", task) }; next }
    /^TASK \[/ { task = $0; sub(/^TASK \[/, "", task)
                  if (task ~ /\]/) sub(/\].*$/, "", task); else open = 1; next }
    # No early exit: sed would die of SIGPIPE (pipefail).
    /^(fatal|failed): \[/ && !/\.\.\.ignoring/ && !found { found = task }
    END { print found }'
}

logs="$CACHE/break-checks"
mkdir -p "$logs"
cd "$ROOT"
rc=0
for scenario in ${BREAK_SCENARIOS:-systemd compose}; do
  log "break-checks: converging $scenario"
  "$VENV/bin/molecule" destroy -s "$scenario" >"$logs/$scenario-converge.log" 2>&1
  "$VENV/bin/molecule" converge -s "$scenario" >>"$logs/$scenario-converge.log" 2>&1 \
    || { tail -n 30 "$logs/$scenario-converge.log"; die "converge of $scenario failed"; }
  breaks=$(for key in "${!expect[@]}"; do if [ "${key%%:*}" = "$scenario" ]; then echo "${key#*:}"; fi; done | sort)
  for brk in none $breaks; do
    out="$logs/$scenario-$brk.log"
    start=$SECONDS
    set +e
    COLUMNS=400 CELERYOPS_VERIFY_PLAYBOOK=breaks.yml CELERYOPS_BREAK=$brk "$VENV/bin/molecule" verify -s "$scenario" >"$out" 2>&1
    status=$?
    set -e
    # The task of the first failure: the last TASK line before it.
    failed=$(failed_task "$out")
    took=$((SECONDS - start))
    if [ "$brk" = none ]; then
      if [ "$status" -eq 0 ]; then
        echo "$scenario unbroken -> every check passes (${took} s)"
      else
        echo "$scenario unbroken -> FAILED in '$failed' (see $out)"; rc=1
      fi
    elif [ "$status" -ne 0 ] && [ "$failed" = "${expect[$scenario:$brk]}" ]; then
      echo "$scenario $brk -> fails in '$failed' (${took} s)"
    else
      echo "$scenario $brk -> NOT CAUGHT: status $status, failed in '${failed:-nothing}' (see $out)"; rc=1
    fi
  done
  if [ "$scenario" = compose ]; then "$VENV/bin/molecule" cleanup -s "$scenario" >/dev/null 2>&1 || true; fi
  "$VENV/bin/molecule" destroy -s "$scenario" >/dev/null 2>&1 || true
done
exit $rc
