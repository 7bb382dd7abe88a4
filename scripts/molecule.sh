#!/usr/bin/env bash
# Runs the Molecule scenarios (`make molecule`). The systemd scenario and the
# others (compose, kubernetes, then rabbitmq) run side by side: they share no
# container, network or port, and most of their time is spent waiting on
# containers, not on the CPU. Each writes its own log under
# .cache/molecule-logs/; all logs are printed at the end, in order.
# SCENARIOS="compose" runs a subset (then one after the other).
source "$(dirname "$0")/lib.sh"

scenarios=${SCENARIOS:-systemd compose kubernetes rabbitmq}
logs="$CACHE/molecule-logs"
rm -rf "$logs"
mkdir -p "$logs"

run_chain() {
  local s
  for s in "$@"; do
    local start=$SECONDS
    if "$VENV/bin/molecule" test -s "$s" >"$logs/$s.log" 2>&1; then
      echo "$s ok $((SECONDS - start))" >"$logs/$s.status"
    else
      echo "$s FAILED $((SECONDS - start))" >"$logs/$s.status"
      return 1
    fi
  done
}

pids=()
chain=()
for s in $scenarios; do
  if [ "$s" = systemd ]; then
    run_chain systemd &
    pids+=($!)
  else
    chain+=("$s")
  fi
done
if [ "${#chain[@]}" -gt 0 ]; then
  run_chain "${chain[@]}" &
  pids+=($!)
fi
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
for s in $scenarios; do
  [ -f "$logs/$s.log" ] || continue
  echo "===== molecule scenario $s ====="
  cat "$logs/$s.log"
done
for s in $scenarios; do
  if [ -f "$logs/$s.status" ]; then log "scenario $(cat "$logs/$s.status") s"; else log "scenario $s not run"; fi
done
exit $rc
