#!/usr/bin/env bash
# `make demo`: what a user does, on this machine. Builds the collection
# tarball, installs it with ansible-galaxy into an empty collections path,
# starts two Debian 12 systemd containers (a Redis broker and an app host
# with workers, beat and Flower), runs the installed playbook
# celeryops.deploy.demo against them, prints the answer of a real task and
# how to reach Flower. Re-runs reuse the containers (idempotent deploy).
# DEMO_DOWN=1 removes the containers instead.
# PLATFORM=compose deploys the same app as a Docker Compose project on this
# machine instead (the demo app image, an all-in-one Redis, Flower on
# 127.0.0.1); DEMO_DOWN=1 PLATFORM=compose removes that project.
# DEMO_BROKER=rabbitmq (systemd): the broker host runs Debian's
# rabbitmq-server (quorum queues) beside Redis, which keeps the results.
source "$(dirname "$0")/lib.sh"
platform=${PLATFORM:-systemd}
case $platform in systemd | compose) ;; *) die "PLATFORM must be systemd or compose, not '$platform'" ;; esac
broker_type=${DEMO_BROKER:-redis}
case $platform/$broker_type in systemd/redis | systemd/rabbitmq | compose/redis) ;;
  *) die "DEMO_BROKER must be redis, or rabbitmq on PLATFORM=systemd; got '$broker_type' on $platform" ;; esac

demo="$CACHE/demo"
net=celeryops-demo
broker=celeryops-demo-broker
host=celeryops-demo-host
# Flower is published on the host's loopback only.
flower_port=${DEMO_FLOWER_PORT:-5555}
mkdir -p "$demo"

if [ -n "${DEMO_DOWN:-}" ] && [ "$platform" = compose ]; then
  docker compose -p celeryops-demo down --volumes --remove-orphans >/dev/null 2>&1 || true
  rm -rf /opt/celery/celeryops-demo
  log "demo Compose project removed"
  exit 0
fi
if [ -n "${DEMO_DOWN:-}" ]; then
  docker rm -f "$broker" "$host" >/dev/null 2>&1 || true
  docker network rm "$net" >/dev/null 2>&1 || true
  log "demo containers removed"
  exit 0
fi

# 1. Build and install the collection as a user would.
log "building the collection"
rm -rf "$demo/dist" "$demo/collections"
# Only the fresh install is visible, not this checkout.
export ANSIBLE_COLLECTIONS_PATH="$demo/collections"
"$VENV/bin/ansible-galaxy" collection build --output-path "$demo/dist" "$ROOT" >/dev/null
tarball=$(ls "$demo"/dist/celeryops-deploy-*.tar.gz)
log "installing $(basename "$tarball") into an empty collections path"
# --offline: dependencies (community.docker, ansible.posix, kubernetes.core)
# are those the `ansible` package ships; no Galaxy server is asked.
"$VENV/bin/ansible-galaxy" collection install --offline -p "$demo/collections" "$tarball" >/dev/null
[ -f "$demo/collections/ansible_collections/celeryops/deploy/MANIFEST.json" ] || die "the collection did not install"

check_flower() {
  local code
  code=$("$VENV/bin/python" - "http://127.0.0.1:$flower_port/$1api/workers" <<'PY'
import sys, urllib.error, urllib.request
try:
    print(urllib.request.urlopen(sys.argv[1], timeout=10).status)
except urllib.error.HTTPError as exc:
    print(exc.code)
except OSError as exc:
    print('unreachable: %s' % exc)
PY
)
  [ "$code" = 401 ] || die "Flower on 127.0.0.1:$flower_port answered $code without credentials, expected 401"
}

# Runs the installed collection's demo playbook by its FQCN; it must end with
# a task answered and Flower refusing a request without credentials.
run_demo() {
  log "running celeryops.deploy.demo ($platform)"
  # The playbook's own exit status decides (a play that fails after the
  # answer fails the demo); grep only shows the interesting lines.
  # (pipefail, from lib.sh: the pipeline's status is the playbook's).
  local rc=0
  ANSIBLE_NOCOLOR=1 "$VENV/bin/ansible-playbook" -i "$1" celeryops.deploy.demo 2>&1 | tee "$demo/last-run.log" \
    | { grep -E '^(PLAY |TASK \[Show|fatal|.*"msg": "add)|changed=|failed=' || true; } || rc=$?
  [ "$rc" -eq 0 ] || die "celeryops.deploy.demo failed (rc $rc); see $demo/last-run.log"
  grep -q '"msg": "add(2, 3) = 5, answered by' "$demo/last-run.log" || die "the demo task did not answer; see $demo/last-run.log"
  check_flower ""
}

umask 077
for secret in broker_password flower_password; do
  [ -s "$demo/$secret" ] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$demo/$secret"
done

if [ "$platform" = compose ]; then
  # One host, this machine: the roles write /opt/celery/celeryops-demo and
  # run `docker compose` there.
  cat >"$demo/inventory-compose.yml" <<YAML
---
all:
  vars:
    ansible_connection: local
    ansible_python_interpreter: $VENV/bin/python
    celery_platform: compose
    celery_app_name: celeryops-demo
    celery_app_module: celeryops_demo.celery:app
    celery_image: ${APP_IMAGE:-celeryops/demo-app:latest}
    celery_compose_pull: never
    # The health checks run at the roles' default interval and start period
    # (30 s each): the scenario shortens them, the demo (and demo-check in
    # make test) deploys with what users get.
    # The all-in-one Redis with the roles' default user; the image is a local
    # stand-in for redis:7.4-bookworm (scripts/build-app-image.sh), since
    # nothing can be pulled here. With a registry, leave the image out.
    celery_compose_broker_enabled: true
    celery_compose_broker_image: ${BROKER_IMAGE:-celeryops/redis:7.4-bookworm}
    celery_compose_broker_password: "{{ lookup('ansible.builtin.file', '$demo/broker_password') }}"
    celery_broker_url: "redis://:{{ celery_compose_broker_password }}@broker:6379/0"
    celery_result_backend: "redis://:{{ celery_compose_broker_password }}@broker:6379/1"
    # Set by the collection, not in the app: acknowledge after the task ran,
    # requeue it when its worker dies, and how soon a killed worker's message
    # is delivered again (the fault tests shorten it).
    celery_worker_acks_late: true
    celery_worker_reject_on_worker_lost: true
    celery_worker_settings: {broker_transport_options: {visibility_timeout: ${DEMO_VISIBILITY_TIMEOUT:-3600}}}
    celery_flower_port: $flower_port
    celery_flower_basic_auth: ["admin:{{ lookup('ansible.builtin.file', '$demo/flower_password') }}"]
    celery_worker_groups:
      - {name: io, queues: [io, celery], kind: io, task_memory_mb: 30, avg_duration_s: 0.05}
      - {name: cpu, queues: [cpu], pool: prefork, concurrency: 2, prefetch_multiplier: 1}
  children:
    celery_workers:
      hosts:
        localhost:
    celery_beat:
      hosts:
        localhost:
    celery_flower:
      hosts:
        localhost:
YAML
  run_demo "$demo/inventory-compose.yml"
  log "done: workers, beat, Flower and Redis of the demo app run as Compose project celeryops-demo"
  log "  look around:  docker compose -p celeryops-demo ps"
  log "  Flower:       http://127.0.0.1:$flower_port/  user admin, password in $demo/flower_password"
  log "remove it with: make demo PLATFORM=compose DEMO_DOWN=1"
  exit 0
fi

# 2. Two systemd hosts on a network of the demo's own.
docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null
start_host() {
  local name=$1; shift
  local want_port=${PUBLISH:-}
  local image=${IMAGE:-$BASE_IMAGE}
  if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ] \
     || [ "$(docker inspect -f '{{.Config.Image}}' "$name" 2>/dev/null)" != "$image" ] \
     || { [ -n "$want_port" ] && ! docker port "$name" 5555/tcp 2>/dev/null | grep -q "127.0.0.1:$want_port"; }; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    log "starting $name"
    docker run -d --name "$name" --hostname "$name" --network "$net" \
      --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      ${want_port:+-p 127.0.0.1:$want_port:5555} "$@" "$image" /lib/systemd/systemd >/dev/null
  fi
}
if [ "$broker_type" = rabbitmq ]; then IMAGE=$RABBITMQ_IMAGE start_host "$broker"; else start_host "$broker"; fi
PUBLISH=$flower_port start_host "$host" -v "$CACHE/wheelhouse:/srv/wheelhouse:ro"
for name in "$broker" "$host"; do
  docker exec "$name" systemctl is-system-running --wait >/dev/null 2>&1 || true
done

# 3. The inventory: random passwords kept in .cache/demo (mode 0600).
cat >"$demo/inventory.yml" <<YAML
---
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
    celery_demo_broker_password: "{{ lookup('ansible.builtin.file', '$demo/broker_password') }}"
    celery_flower_basic_auth: ["admin:{{ lookup('ansible.builtin.file', '$demo/flower_password') }}"]
    # Inside the container Flower listens on all addresses; docker publishes
    # it on the host's 127.0.0.1 only.
    celery_flower_address: 0.0.0.0
    celery_app_name: demo
    celery_app_module: celeryops_demo.celery:app
$(if [ "$broker_type" = rabbitmq ]; then cat <<RABBIT
    celery_demo_broker_type: rabbitmq
    celery_broker_url: "amqp://demo:{{ celery_demo_broker_password }}@$broker:5672/demo"
    celery_broker_queue_type: quorum
RABBIT
else cat <<REDIS
    celery_broker_url: "redis://:{{ celery_demo_broker_password }}@$broker:6379/0"
REDIS
fi)
    celery_result_backend: "redis://:{{ celery_demo_broker_password }}@$broker:6379/1"
    celery_python_packages: [celeryops-demo]
    # Set by the collection, not in the app: acknowledge after the task ran,
    # requeue it when its worker dies, and how soon a killed worker's message
    # is delivered again (the fault tests shorten it).
    celery_worker_acks_late: true
    celery_worker_reject_on_worker_lost: true
    celery_worker_settings: {broker_transport_options: {visibility_timeout: ${DEMO_VISIBILITY_TIMEOUT:-3600}}}
    celery_pip_extra_args: [--no-index, --find-links, /srv/wheelhouse]
    celery_worker_groups:
      - {name: io, queues: [io, celery], pool: threads, concurrency: 16}
      - {name: cpu, queues: [cpu], pool: prefork, concurrency: 2, instances: 2, prefetch_multiplier: 1}
  children:
    celery_brokers:
      hosts:
        $broker:
    celery_workers:
      hosts:
        $host:
    celery_beat:
      hosts:
        $host:
    celery_flower:
      hosts:
        $host:
YAML

# 4. Run the installed collection's demo playbook by its FQCN.
run_demo "$demo/inventory.yml"
log "done: workers, beat and Flower of the demo app run on $host"
log "  look around:  docker exec -it $host systemctl status 'demo-*'"
log "  Flower:       http://127.0.0.1:$flower_port/  user admin, password in $demo/flower_password"
log "remove it with: make demo DEMO_DOWN=1"
