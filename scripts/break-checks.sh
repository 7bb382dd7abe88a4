#!/usr/bin/env bash
# `make break-checks`: shows that the scenarios' checks of README claims
# fail when the behaviour they name is broken. For each scenario: converge
# once, run molecule/<scenario>/breaks.yml as the verify playbook unbroken
# (every check must pass), then once per break (CELERYOPS_BREAK): the run
# must fail, and fail in the task that names the behaviour. Prints one line
# per break; exits 1 when a break passes or fails elsewhere.
# The `faults` entry does the same for tests/faults: the systemd demo as make
# faults deploys it, the harness unbroken (every row passes), then
# tests/faults/break_on_purpose.py, whose every case must fail its row for
# the reason the case names (its CASES).
# BREAK_SCENARIOS="compose" runs one scenario only (default: systemd compose
# rabbitmq kubernetes faults); BREAKS="rules_partial release_good" only those
# breaks (and the unbroken run).
source "$(dirname "$0")/lib.sh"

# scenario break -> the task that must fail
declare -A expect=(
  [systemd:flower_not_persistent]="The task from before the restart is still in Flower's history"
  [systemd:env_unchanged]="Every group restarted for the shared environment"
  [systemd:status_no_heartbeat]="Status names each of the four on its own row"
  [systemd:metrics_open]="Prometheus metrics without credentials are refused"
  [compose:metrics_open]="Prometheus metrics without credentials are refused"
  [compose:runtime_buckets_flowers]="Check that Flower's runtime histogram has the roles' buckets, up to an hour"
  [systemd:drop_skipped]="The dropped group's instances are stopped and its files and links gone"
  [compose:label_changed]="Count the Celery containers the checks below see"
  [compose:secret_unchanged]="Every Celery container was recreated; the broker and its exporter were not"
  [compose:rules_partial]="Check that every rule loaded, CeleryBeatNotFiring among them, and evaluates cleanly"
  [compose:backlog_empty]="Wait for the alert to fire, CeleryQueueBacklog"
  [compose:backlog_not_alone]="Check that it fired within its bound, with its labels, and alone, CeleryQueueBacklog"
  [compose:beat_kept]="Wait for the alert to fire, CeleryBeatNotFiring"
  [compose:dashboard_other_app]="Every dashboard panel's query returns a series"
  [compose:flower_wrong_login]="Flower loads whole in a browser, logged in, and shows every worker node"
  [compose:rmq_backlog_empty]="Wait for the alert to fire, CeleryQueueBacklog"
  [compose:settle_skipped]="The play failed on the crash after the first health check; every worker runs the previous image"
  [compose:release_good]="The play failed naming io; io kept 2 containers on the old configuration; nothing lost"
  [rabbitmq:lock_released]="The takeover came within lock timeout + loop; no tick doubled, none skipped beyond that"
  [kubernetes:probe_weak]="Check the probe proof"
  [kubernetes:cron_misspelt]="Check the CronJob proof"
  [kubernetes:metrics_open]="Check the probe proof"
  [compose:drop_skipped]="The dropped group is gone, every other container untouched"
)
# The task whose failure failed the run (not one ignored or rescued before
# it): scripts/failed_task.py reads the log and its PLAY RECAP.
failed_task() {
  "$VENV/bin/python" "$ROOT/scripts/failed_task.py" "$1"
}

fault_cases=$("$VENV/bin/python" "$ROOT/tests/faults/break_on_purpose.py" --list)
# A name in BREAKS that no scenario has is a typo, not a pass.
for brk in ${BREAKS:-}; do
  known=
  for key in "${!expect[@]}"; do [ "${key#*:}" = "$brk" ] && known=1; done
  for case in $fault_cases; do [ "$case" = "$brk" ] && known=1; done
  [ -n "$known" ] || die "BREAKS: no scenario has a break named '$brk'"
done

# The faults entry: the demo up and the harness unbroken (make faults, the
# systemd platform, its demo kept), each case of break_on_purpose.py, the
# demo down.
fault_breaks() {
  local cases=$fault_cases start=$SECONDS status
  if [ -n "${BREAKS:-}" ]; then
    cases=$(for case in $fault_cases; do case " $BREAKS " in *" $case "*) echo "$case" ;; esac; done)
  fi
  set +e
  FAULT_PLATFORMS=systemd FAULT_KEEP=1 "$ROOT/scripts/faults.sh" >"$logs/faults-none.log" 2>&1
  status=$?
  set -e
  if [ "$status" -eq 0 ]; then
    echo "faults unbroken -> every row passes ($((SECONDS - start)) s)"
  else
    echo "faults unbroken -> FAILED (see $logs/faults-none.log)"; rc=1
  fi
  if [ -n "$cases" ]; then
    # shellcheck disable=SC2086 # one argument per case
    "$VENV/bin/python" "$ROOT/tests/faults/break_on_purpose.py" $cases >"$logs/faults-breaks.log" 2>&1 || rc=1
    sed 's/^\([a-z_]*\) *-> /faults \1 -> /' "$logs/faults-breaks.log" | grep '^faults ' || rc=1
  fi
  PLATFORM=systemd DEMO_DOWN=1 "$ROOT/scripts/demo.sh" >/dev/null 2>&1 || true
}

logs="$CACHE/break-checks"
mkdir -p "$logs"
cd "$ROOT"
rc=0
for scenario in ${BREAK_SCENARIOS:-systemd compose rabbitmq kubernetes faults}; do
  if [ "$scenario" = faults ]; then fault_breaks; continue; fi
  log "break-checks: converging $scenario"
  "$VENV/bin/molecule" destroy -s "$scenario" >"$logs/$scenario-converge.log" 2>&1
  "$VENV/bin/molecule" converge -s "$scenario" >>"$logs/$scenario-converge.log" 2>&1 \
    || { tail -n 30 "$logs/$scenario-converge.log"; die "converge of $scenario failed"; }
  breaks=$(for key in "${!expect[@]}"; do if [ "${key%%:*}" = "$scenario" ]; then echo "${key#*:}"; fi; done | sort)
  if [ -n "${BREAKS:-}" ]; then
    breaks=$(for brk in $breaks; do case " $BREAKS " in *" $brk "*) echo "$brk" ;; esac; done)
  fi
  for brk in none $breaks; do
    out="$logs/$scenario-$brk.log"
    start=$SECONDS
    set +e
    COLUMNS=400 CELERYOPS_VERIFY_PLAYBOOK=breaks.yml CELERYOPS_BREAK=$brk "$VENV/bin/molecule" verify -s "$scenario" >"$out" 2>&1
    status=$?
    set -e
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
  if [ -f "molecule/$scenario/cleanup.yml" ]; then "$VENV/bin/molecule" cleanup -s "$scenario" >/dev/null 2>&1 || true; fi
  "$VENV/bin/molecule" destroy -s "$scenario" >/dev/null 2>&1 || true
done
exit $rc
