#!/usr/bin/env bash
# `make demo-check`, the build/install check: the demo builds the tarball,
# installs it into an empty collections path and runs celeryops.deploy.demo
# from there, on systemd and then on Compose (the default 30 s health-check
# interval: the demo keeps the roles' defaults), removing each after it.
# The two run one after the other: they share .cache/demo.
source "$(dirname "$0")/lib.sh"
PLATFORM=systemd "$ROOT/scripts/demo.sh"
PLATFORM=systemd DEMO_DOWN=1 "$ROOT/scripts/demo.sh"
PLATFORM=compose "$ROOT/scripts/demo.sh"
PLATFORM=compose DEMO_DOWN=1 "$ROOT/scripts/demo.sh"
