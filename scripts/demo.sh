#!/usr/bin/env bash
# `make demo`: what a user does, on this machine. Builds the collection
# tarball, installs it with ansible-galaxy into an empty collections path,
# starts two Debian 12 systemd containers (a Redis broker and an app host),
# runs the installed playbook celeryops.deploy.demo against them and prints
# the answer of a real task. Re-runs reuse the containers (idempotent deploy).
# DEMO_DOWN=1 removes the containers instead.
source "$(dirname "$0")/lib.sh"

demo="$CACHE/demo"
net=celeryops-demo
broker=celeryops-demo-broker
host=celeryops-demo-host
mkdir -p "$demo"

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

# 2. Two systemd hosts on a network of the demo's own.
docker network inspect "$net" >/dev/null 2>&1 || docker network create "$net" >/dev/null
start_host() {
  local name=$1; shift
  if [ "$(docker inspect -f '{{.State.Running}}' "$name" 2>/dev/null)" != true ]; then
    docker rm -f "$name" >/dev/null 2>&1 || true
    log "starting $name"
    docker run -d --name "$name" --hostname "$name" --network "$net" \
      --cap-add SYS_ADMIN --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
      --cgroupns=host -v /sys/fs/cgroup:/sys/fs/cgroup:rw --tmpfs /run --tmpfs /run/lock --tmpfs /tmp \
      "$@" "$BASE_IMAGE" /lib/systemd/systemd >/dev/null
  fi
}
start_host "$broker"
start_host "$host" -v "$CACHE/wheelhouse:/srv/wheelhouse:ro"
for name in "$broker" "$host"; do
  docker exec "$name" systemctl is-system-running --wait >/dev/null 2>&1 || true
done

# 3. The inventory: a random broker password kept in .cache/demo (mode 0600).
umask 077
[ -s "$demo/broker_password" ] || "$VENV/bin/python" -c 'import secrets; print(secrets.token_urlsafe(24))' >"$demo/broker_password"
cat >"$demo/inventory.yml" <<YAML
---
all:
  vars:
    ansible_connection: community.docker.docker
    ansible_python_interpreter: /usr/bin/python3
    celery_demo_broker_password: "{{ lookup('ansible.builtin.file', '$demo/broker_password') }}"
    celery_app_name: demo
    celery_app_module: celeryops_demo.celery:app
    celery_broker_url: "redis://:{{ celery_demo_broker_password }}@$broker:6379/0"
    celery_result_backend: "redis://:{{ celery_demo_broker_password }}@$broker:6379/1"
    celery_python_packages: [celeryops-demo]
    celery_pip_extra_args: --no-index --find-links /srv/wheelhouse
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
YAML

# 4. Run the installed collection's demo playbook by its FQCN.
log "running celeryops.deploy.demo"
ANSIBLE_NOCOLOR=1 \
  "$VENV/bin/ansible-playbook" -i "$demo/inventory.yml" celeryops.deploy.demo | tee "$demo/last-run.log" \
  | grep -E '^(PLAY |TASK \[Show|fatal|.*"msg": "add)|changed=|failed=' || true
grep -q '"msg": "add(2, 3) = 5, answered by' "$demo/last-run.log" || die "the demo task did not answer; see $demo/last-run.log"
log "done: the demo app runs on $host (docker exec -it $host bash; systemctl status 'demo-worker*')"
log "remove it with: make demo DEMO_DOWN=1"
