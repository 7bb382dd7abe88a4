# Shared helpers for the project's own setup scripts (sourced, not run).
# shellcheck shell=bash
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT
# Everything built for tests lives under .cache (git-ignored), except Docker
# images, which live in the engine and are reused across clones.
CACHE="${CELERYOPS_CACHE:-$ROOT/.cache}"
export CACHE
VENV="${CELERYOPS_VENV:-$ROOT/.venv}"
export VENV
BASE_IMAGE="${CELERYOPS_BASE_IMAGE:-celeryops/debian12-systemd:latest}"
export BASE_IMAGE
# Debian 13 (trixie) hosts, built the same way: the rabbitmq scenario's app hosts.
TRIXIE_IMAGE="${CELERYOPS_TRIXIE_IMAGE:-celeryops/debian13-systemd:latest}"
export TRIXIE_IMAGE
RABBITMQ_IMAGE="${CELERYOPS_RABBITMQ_IMAGE:-celeryops/debian12-rabbitmq:latest}"
export RABBITMQ_IMAGE
EXPORTER_IMAGE="${CELERYOPS_EXPORTER_IMAGE:-celeryops/debian12-redis-exporter:latest}"
export EXPORTER_IMAGE

# Tool venvs live outside the checkout, one per hash of what they install, so
# that a clean clone reuses them (the checkout's .venv is a link to one).
TOOLS_CACHE="${CELERYOPS_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/celeryops}"
export TOOLS_CACHE

log() { printf '==> %s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }

need_root() {
  [ "$(id -u)" = 0 ] || die "$1 needs root (it installs Debian packages)"
}

# Install Debian packages that are missing; one apt-get update per run at most.
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  need_root "installing ${missing[*]}"
  if [ -z "${_APT_UPDATED:-}" ]; then
    apt-get update -qq
    _APT_UPDATED=1
  fi
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# The Debian mirror this machine is configured with (no host name is written
# into the repo): first URIs line of the deb822 sources, or a sources.list line.
debian_mirror() {
  local uri
  uri=$(grep -hE '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | grep -v security | head -n1 | awk '{print $2}') || true
  if [ -z "$uri" ]; then
    uri=$(grep -hE '^deb ' /etc/apt/sources.list 2>/dev/null | grep -v security | head -n1 | awk '{print $2}') || true
  fi
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list"
  printf '%s\n' "$uri"
}

# venv_cached NAME KEY LINK: points LINK at the venv NAME-KEY in $TOOLS_CACHE.
# Returns 0 when that venv is complete; else creates it empty and returns 1:
# the caller installs into LINK, then marks it with venv_complete LINK. A run
# stopped half-way leaves no mark, so the next one starts that venv again.
venv_cached() {
  local dir="$TOOLS_CACHE/$1-${2:0:16}"
  mkdir -p "$TOOLS_CACHE" "$(dirname "$3")"
  # A real directory here is a venv from before the cache: replaced by the link.
  if [ -d "$3" ] && [ ! -L "$3" ]; then rm -rf "$3"; fi
  ln -sfn "$dir" "$3"
  if [ -f "$dir/.celeryops-complete" ] && [ -x "$dir/bin/python" ]; then return 0; fi
  python3 -c 'import ensurepip, venv' 2>/dev/null || apt_install python3-venv
  # Older venvs of this NAME were for other requirements: nothing uses them now.
  find "$TOOLS_CACHE" -mindepth 1 -maxdepth 1 -name "$1-*" ! -name "$(basename "$dir")" -exec rm -rf {} +
  rm -rf "$dir"
  python3 -m venv "$dir"
  return 1
}

venv_complete() { touch "$1/.celeryops-complete"; }
