#!/usr/bin/env bash
# Runs the Molecule scenarios (`make molecule`) in two chains side by side:
# systemd then rabbitmq, and compose then kubernetes (about as long: 1115 +
# 498 s against 1141 + 716 s, measured on 2 cores, 2026-12-07). They share
# no container, network or port, and much of their time is spent waiting on
# containers. Each writes its own log under .cache/molecule-logs/; all logs
# are printed at the end, in order.
# SCENARIOS="compose" runs a subset (then one after the other).
# DEMO_CHECK=1 (`make test` sets it) adds `demo-check`, the build/install check
# (scripts/demo-check.sh, 318 s), run at the end of the first chain, the
# shorter one.
# CHECKS="static input" (`make test` sets it) runs those make targets beside
# the chains, one after the other, at a lower priority (nice 10): two busy
# chains still leave about 12 % of the 2 cores idle (vmstat, waits on
# containers and alerts), which is about what lint, sanity and the bad-input
# runs need; run before the chains they cost about 250 s of make test. They
# have no timing bound to miss (the unit tests, which have, run before).
source "$(dirname "$0")/lib.sh"

scenarios="${SCENARIOS:-systemd compose kubernetes rabbitmq}${DEMO_CHECK:+ demo-check}"
logs="$CACHE/molecule-logs"
rm -rf "$logs"
mkdir -p "$logs"

run_chain() {
  local s
  for s in "$@"; do
    local start=$SECONDS
    local cmd=("$VENV/bin/molecule" test -s "$s")
    if [ "$s" = demo-check ]; then cmd=("$ROOT/scripts/demo-check.sh"); fi
    if "${cmd[@]}" >"$logs/$s.log" 2>&1; then
      echo "$s ok $((SECONDS - start))" >"$logs/$s.status"
    else
      echo "$s FAILED $((SECONDS - start))" >"$logs/$s.status"
      return 1
    fi
  done
}

run_checks() {
  local start=$SECONDS targets
  read -r -a targets <<<"$CHECKS"
  if nice -n 10 make --no-print-directory -C "$ROOT" "${targets[@]}" >"$logs/checks.log" 2>&1; then
    echo "checks ($CHECKS) ok $((SECONDS - start))" >"$logs/checks.status"
  else
    echo "checks ($CHECKS) FAILED $((SECONDS - start))" >"$logs/checks.status"
    return 1
  fi
}

pids=()
if [ -n "${CHECKS:-}" ]; then
  run_checks &
  pids+=($!)
fi
first=()
second=()
for s in $scenarios; do
  case "$s" in
    systemd|rabbitmq|demo-check) first+=("$s") ;;
    *) second+=("$s") ;;
  esac
done
for chain in first second; do
  declare -n members="$chain"
  if [ "${#members[@]}" -gt 0 ]; then
    run_chain "${members[@]}" &
    pids+=($!)
  fi
  unset -n members
done
rc=0
for pid in "${pids[@]}"; do
  wait "$pid" || rc=1
done
if [ -f "$logs/checks.log" ]; then
  echo "===== make $CHECKS ====="
  cat "$logs/checks.log"
fi
for s in $scenarios; do
  [ -f "$logs/$s.log" ] || continue
  echo "===== $( [ "$s" = demo-check ] && echo "make demo-check" || echo "molecule scenario $s") ====="
  cat "$logs/$s.log"
done
if [ -f "$logs/checks.status" ]; then log "$(cat "$logs/checks.status") s"; fi
for s in $scenarios; do
  if [ -f "$logs/$s.status" ]; then log "scenario $(cat "$logs/$s.status") s"; else log "scenario $s not run"; fi
done
# Last, where a CI excerpt of the output's end still shows it: what failed.
for s in $scenarios; do
  if grep -qs FAILED "$logs/$s.status" && [ "$s" != demo-check ]; then
    log "why $s failed: $("$VENV/bin/python" "$ROOT/scripts/failed_task.py" --why "$logs/$s.log")"
  fi
done
exit $rc
