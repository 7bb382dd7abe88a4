#!/usr/bin/env bash
# `make faults`: deploys the demo on Compose and on systemd (with a 20 s
# visibility timeout, so a message a killed worker had taken comes back
# soon), and on systemd with RabbitMQ (quorum queues), runs
# tests/faults/faults.py against each, removes the demo, and prints the
# tables. Bounded: every fault waits at most a few minutes.
# FAULT_PLATFORMS="compose" runs one platform only; FAULT_KEEP=1 leaves the
# last platform's demo up (make break-checks breaks the faults on it).
source "$(dirname "$0")/lib.sh"

platforms=${FAULT_PLATFORMS:-compose systemd systemd-rabbitmq}
rc=0
for platform in $platforms; do
  case $platform in
    compose)
      changed='[{"name": "io", "queues": ["io", "celery"], "kind": "io", "task_memory_mb": 30, "avg_duration_s": 0.05},
                {"name": "cpu", "queues": ["cpu"], "pool": "prefork", "concurrency": 3, "prefetch_multiplier": 1}]' ;;
    systemd | systemd-rabbitmq)
      changed='[{"name": "io", "queues": ["io", "celery"], "pool": "threads", "concurrency": 16},
                {"name": "cpu", "queues": ["cpu"], "pool": "prefork", "concurrency": 3, "instances": 2,
                 "prefetch_multiplier": 1}]' ;;
    *) die "unknown platform $platform" ;;
  esac
  # systemd-rabbitmq: the systemd demo on RabbitMQ with quorum queues, which
  # redelivers a killed worker's messages at once (no visibility timeout).
  target=${platform%-rabbitmq}
  broker=redis visibility=20
  if [ "$platform" != "$target" ]; then broker=rabbitmq visibility=0; fi
  log "faults on $platform: deploying the demo"
  PLATFORM=$target DEMO_BROKER=$broker DEMO_VISIBILITY_TIMEOUT=20 "$ROOT/scripts/demo.sh" \
    >"$CACHE/faults-$platform-deploy.log" 2>&1 \
    || { tail -n 20 "$CACHE/faults-$platform-deploy.log"; die "demo deploy on $platform failed"; }
  log "faults on $platform: running"
  "$VENV/bin/python" "$ROOT/tests/faults/faults.py" --platform "$target" --broker "$broker" \
    --visibility-timeout "$visibility" --changed-groups "$changed" || rc=1
  if [ -z "${FAULT_KEEP:-}" ]; then PLATFORM=$target DEMO_DOWN=1 "$ROOT/scripts/demo.sh" >/dev/null 2>&1 || true; fi
done
exit $rc
