#!/usr/bin/env bash
# Debian's chromium, the headless browser the compose scenario opens Flower
# in (molecule/shared/files/flower_browser.py).
source "$(dirname "$0")/lib.sh"

command -v chromium >/dev/null 2>&1 && exit 0
need_root "installing chromium"
apt_install chromium
command -v chromium >/dev/null 2>&1 || die "chromium missing after installing it"
log "chromium: $(chromium --version 2>/dev/null | head -n 1)"
