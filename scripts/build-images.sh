#!/usr/bin/env bash
# Local base images for the test hosts: Debian 12 (and 13, trixie) with
# systemd as PID 1, Python 3 (venv, packaging) and redis-server, made with
# debootstrap from the machine's own Debian mirror, since no image registry
# can be reached.
# Skips the build when the image already exists (set REBUILD=1 to force).
# Then the RabbitMQ and broker-exporter host images, built on it (see
# build_on_base).
source "$(dirname "$0")/lib.sh"

build_base() {
local suite=$1 image=$2
need_root "debootstrap"
apt_install debootstrap

# What the roles and tests need inside a host. The role installs its own
# prerequisites too; baking them in keeps the tests offline.
packages=(
  systemd systemd-sysv dbus procps iproute2 ca-certificates
  python3 python3-venv python3-packaging python3-apt
  redis-server redis-tools logrotate sudo curl
)
mirror=$(debian_mirror)
rootfs=$(mktemp -d /var/tmp/celeryops-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
log "debootstrap $suite into $rootfs (about 75-120 s)"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" "$suite" "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
  || { tail -n 30 "$rootfs.log" >&2; die "debootstrap failed"; }
rm -f "$rootfs.log"

# Make it a quiet container host: no services that fight the container's
# runtime, redis off unless a test starts it, an empty machine-id that
# systemd fills at boot, no apt caches.
chroot "$rootfs" systemctl disable redis-server >/dev/null 2>&1 || true
chroot "$rootfs" systemctl mask systemd-udevd.service systemd-udevd-control.socket \
  systemd-udevd-kernel.socket getty@tty1.service systemd-firstboot.service \
  systemd-remount-fs.service >/dev/null 2>&1 || true
: >"$rootfs/etc/machine-id"
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*

log "importing as $image"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$image" >/dev/null
rm -rf "$rootfs"
trap - EXIT
log "built $image"
}

# Host images on top of the base image with one Debian package more, its
# service off until a test (or a role) starts it: RabbitMQ for the RabbitMQ
# scenario and faults, prometheus-redis-exporter for the broker exporter.
# apt runs in the build on the host's network (the base image's sources list
# is the machine's own mirror), as debootstrap did. Rebuilt when the base
# image or this recipe changes (a label holds their hash).
build_on_base() {
  local image=$1 package=$2 want have ctx buildlog
  want=$( (docker image inspect -f '{{.Id}}' "$BASE_IMAGE"; printf '%s\n' "$package-v1") | sha256sum | cut -d' ' -f1)
  have=$(docker image inspect -f '{{ index .Config.Labels "celeryops.build-sha256" }}' "$image" 2>/dev/null) || have=""
  if [ -z "${REBUILD:-}" ] && [ "$have" = "$want" ]; then
    log "image $image up to date"
    return 0
  fi
  log "building $image ($package from the Debian mirror, about 60 s)"
  ctx=$(mktemp -d)
  buildlog=$(mktemp)
  cat >"$ctx/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
# No daemon starts during the build (policy-rc.d 101); systemd starts it in a test.
RUN printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d \\
 && apt-get update -qq \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $package >/dev/null \\
 && systemctl disable $package \\
 && rm -f /usr/sbin/policy-rc.d && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/*.deb
DOCKERFILE
  DOCKER_BUILDKIT=0 docker build --rm --force-rm --network host --label "celeryops.build-sha256=$want" \
      -t "$image" "$ctx" >"$buildlog" 2>&1 \
    || { tail -n 30 "$buildlog" >&2; rm -rf "$ctx" "$buildlog"; die "docker build of $image failed"; }
  rm -rf "$ctx" "$buildlog"
  docker image prune -f --filter "label=celeryops.build-sha256" >/dev/null
  log "built $image"
}

for base in "bookworm $BASE_IMAGE" "trixie $TRIXIE_IMAGE"; do
  read -r suite image <<<"$base"
  if [ -n "${REBUILD:-}" ] || ! docker image inspect "$image" >/dev/null 2>&1; then
    build_base "$suite" "$image"
  else
    log "image $image present"
  fi
done
build_on_base "$RABBITMQ_IMAGE" rabbitmq-server
build_on_base "$EXPORTER_IMAGE" prometheus-redis-exporter
