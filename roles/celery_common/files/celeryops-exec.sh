#!/bin/sh
# Entry point of every Celery container that celeryops.deploy runs with
# Compose: exports the secrets mounted as Compose secrets (KEY=value lines,
# taken literally) and then exec's the command, so Celery itself receives
# SIGTERM from Docker's init. The secrets never enter the container's
# configuration, so `docker inspect` cannot show them.
set -eu
for file in /run/secrets/celery_env /run/secrets/celery_role_env; do
  [ -r "$file" ] || continue
  while IFS= read -r line || [ -n "$line" ]; do
    case $line in
      '' | '#'*) continue ;;
    esac
    # The line itself is NAME=value: export it as a whole, literally.
    # shellcheck disable=SC2163
    export "$line"
  done <"$file"
done
exec "$@"
