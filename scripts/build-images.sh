#!/usr/bin/env bash
# Local base image for the test hosts: Debian 12 with systemd as PID 1, Python
# 3 (venv, packaging) and redis-server, made with debootstrap from the
# machine's own Debian mirror, since no image registry can be reached.
# Skips the build when the image already exists (set REBUILD=1 to force).
source "$(dirname "$0")/lib.sh"

if [ -z "${REBUILD:-}" ] && docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
  log "image $BASE_IMAGE present"
  exit 0
fi
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
log "debootstrap bookworm into $rootfs (about 75-120 s)"
include=$(IFS=,; echo "${packages[*]}")
debootstrap --variant=minbase --include="$include" bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1 \
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

log "importing as $BASE_IMAGE"
tar -C "$rootfs" -c . | docker import \
  --change 'CMD ["/lib/systemd/systemd"]' \
  --change 'ENV container=docker' \
  - "$BASE_IMAGE" >/dev/null
log "built $BASE_IMAGE"
