#!/usr/bin/env bash
# Debian's prometheus package, for promtool (the alert rules' checks and
# tests) and for the scenarios that start their own Prometheus on a free
# loopback port. The package's own service is never started: a test machine
# must not serve Prometheus on 0.0.0.0:9090.
source "$(dirname "$0")/lib.sh"

command -v promtool >/dev/null 2>&1 && exit 0
need_root "installing prometheus"
policy=/usr/sbin/policy-rc.d
if [ ! -e "$policy" ]; then
  # Services installed now do not start (invoke-rc.d asks this script).
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 0755 "$policy"
  trap 'rm -f "$policy"' EXIT
fi
apt_install prometheus
if [ -d /run/systemd/system ]; then
  systemctl disable --now prometheus.service >/dev/null 2>&1 || true
fi
command -v promtool >/dev/null 2>&1 || die "promtool missing after installing prometheus"
log "promtool: $(promtool --version 2>&1 | head -n 1)"
