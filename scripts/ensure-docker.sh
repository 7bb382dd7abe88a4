#!/usr/bin/env bash
# A running Docker engine and the Compose v2 plugin, from Debian packages only.
# Idempotent: does nothing when both already work.
source "$(dirname "$0")/lib.sh"

if ! command -v dockerd >/dev/null 2>&1; then
  apt_install docker.io
fi

if ! docker info >/dev/null 2>&1; then
  log "starting dockerd"
  need_root "starting dockerd"
  mkdir -p /var/log
  # setsid + nohup: the engine outlives this script (and make), not the session.
  setsid nohup dockerd >/var/log/celeryops-dockerd.log 2>&1 < /dev/null &
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && break
    sleep 1
  done
  docker info >/dev/null 2>&1 || { tail -n 20 /var/log/celeryops-dockerd.log >&2; die "dockerd did not come up in 60 s"; }
fi

# Compose v2: Debian 12 ships only v1; Debian 13's docker-compose package is
# v2 as a static binary. Fetch that one .deb with apt from a trixie source list
# given by option, so the machine's own sources stay untouched.
if ! docker compose version >/dev/null 2>&1; then
  need_root "installing the Compose v2 plugin"
  mirror=$(debian_mirror)
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  printf 'deb [trusted=yes] %s trixie main\n' "$mirror" >"$work/sources.list"
  opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=-"
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache::Archives=$work/archives"
        -o "APT::Get::List-Cleanup=0" -o "APT::Sandbox::User=root" -o "Acquire::Languages=none")
  log "fetching docker-compose (Compose v2) from Debian trixie"
  apt-get "${opts[@]}" update -qq
  (cd "$work" && apt-get "${opts[@]}" download docker-compose >/dev/null)
  dpkg -x "$work"/docker-compose_*.deb "$work/x"
  install -D -m 0755 "$work/x/usr/libexec/docker/cli-plugins/docker-compose" \
    /usr/local/lib/docker/cli-plugins/docker-compose
  docker compose version >/dev/null || die "docker compose still not working"
fi
log "docker: $(docker version --format '{{.Server.Version}}'), $(docker compose version --short)"
