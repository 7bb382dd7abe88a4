#!/usr/bin/env bash
# redis-server from Debian, for the tests and the bench that start their own
# throwaway server on a free loopback port (never the system one).
source "$(dirname "$0")/lib.sh"
command -v redis-server >/dev/null 2>&1 || apt_install redis-server
