#!/usr/bin/env bash
# The demo app's container image (celeryops/demo-app:latest, or $APP_IMAGE) for
# the Docker Compose deployment, built offline: from the local base image and
# the local wheelhouse, which goes into the build context as wheels/ without
# being copied into the source tree.
# Skips the build when the image carries the hash of its inputs (Dockerfile,
# wheelhouse, base image); set REBUILD=1 to force.
source "$(dirname "$0")/lib.sh"

APP_IMAGE="${APP_IMAGE:-celeryops/demo-app:latest}"
app="$ROOT/examples/demo_app"
wh="$CACHE/wheelhouse"
stamp="$wh/.celeryops-wheelhouse.sha256"
hash_label="celeryops.build-sha256"
pip_args="--no-index --find-links /src/wheels"
packages="celeryops-demo flower"

if [ ! -f "$stamp" ] || ! compgen -G "$wh/celeryops_demo-*.whl" >/dev/null; then
  die "wheelhouse $wh is missing or incomplete: run 'make wheelhouse' (scripts/build-wheelhouse.sh) first"
fi
docker info >/dev/null 2>&1 || die "no Docker engine: run scripts/ensure-docker.sh"
base_id=$(docker image inspect -f '{{.Id}}' "$BASE_IMAGE" 2>/dev/null) \
  || die "base image $BASE_IMAGE missing: run scripts/build-images.sh"

# Everything the image is made of; a new base image (REBUILD=1 make images)
# or other build args also mean a rebuild.
want=$( (cat "$app/Dockerfile" "$stamp"; printf '%s\n' "$base_id" "$pip_args" "$packages") \
  | sha256sum | cut -d' ' -f1)
have=$(docker image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$APP_IMAGE" 2>/dev/null) || have=""
# The demo app's version as a second tag (manifests pin a version, not latest).
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' "$app/pyproject.toml")
versioned="${APP_IMAGE%:*}:$version"
buildlog=$(mktemp)
trap 'rm -f "$buildlog"' EXIT
if [ -z "${REBUILD:-}" ] && [ "$have" = "$want" ]; then
  docker tag "$APP_IMAGE" "$versioned"
  log "image $APP_IMAGE ($versioned) up to date"
else
  log "building $APP_IMAGE from $BASE_IMAGE and $wh"
  start=$SECONDS
  # The context is streamed: the app's files plus the wheelhouse renamed to
  # wheels/ (tar's -C is relative to the one before, hence the absolute path).
  # A streamed tarball bypasses .dockerignore, so its patterns are repeated
  # here. Classic builder: the engine is 20.10 without buildx.
  tar -c --sort=name --owner=0 --group=0 --numeric-owner \
      --exclude=build --exclude=dist --exclude='*.egg-info' --exclude=__pycache__ \
      --exclude='*.py[co]' --exclude=.venv --exclude=.git \
      --exclude=.celeryops-wheelhouse.sha256 \
      --transform='s,^wheelhouse,wheels,' \
      -C "$app" . -C "$(cd "$CACHE" && pwd)" wheelhouse \
    | DOCKER_BUILDKIT=0 docker build --rm --force-rm \
        --build-arg BASE_IMAGE="$BASE_IMAGE" \
        --build-arg PIP_INSTALL_ARGS="$pip_args" \
        --build-arg PACKAGES="$packages" \
        --label "$hash_label=$want" \
        -t "$APP_IMAGE" - >"$buildlog" 2>&1 \
    || { tail -n 30 "$buildlog" >&2; die "docker build of $APP_IMAGE failed"; }
  # Remove what a build leaves dangling, and only that: the build stage (the
  # classic builder keeps it) and the image this one replaced (unless in use).
  docker image prune -f --filter "label=celeryops.stage=demo-app-build" >/dev/null
  docker image prune -f --filter "label=$hash_label" >/dev/null
  docker tag "$APP_IMAGE" "$versioned"
  size=$(docker image inspect -f '{{.Size}}' "$APP_IMAGE")
  log "built $APP_IMAGE in $((SECONDS - start)) s ($((size / 1000000)) MB)"
fi

# build_standin IMAGE KEY WHAT [FILE...]: builds IMAGE from the Dockerfile on
# stdin, with the FILEs in its context, unless it carries KEY (a hash of its
# base image and recipe) already.
build_standin() {
  local image=$1 want=$2 what=$3 have ctx
  shift 3
  have=$(docker image inspect -f "{{ index .Config.Labels \"$hash_label\" }}" "$image" 2>/dev/null) || have=""
  if [ "$have" = "$want" ]; then
    cat >/dev/null
    return 0
  fi
  ctx=$(mktemp -d)
  cat >"$ctx/Dockerfile"
  if [ $# -gt 0 ]; then cp "$@" "$ctx/"; fi
  DOCKER_BUILDKIT=0 docker build --rm --force-rm --label "$hash_label=$want" -t "$image" "$ctx" >"$buildlog" 2>&1 \
    || { tail -n 30 "$buildlog" >&2; rm -rf "$ctx"; die "docker build of $image failed"; }
  rm -rf "$ctx"
  log "built $image ($what)"
}

# variant IMAGE WHAT FILE: IMAGE made of the app image, FILE and the
# Dockerfile on stdin; its key covers all three.
variant() {
  local image=$1 what=$2 file=$3 recipe key
  recipe=$(cat)
  key=$( (docker image inspect -f '{{.Id}}' "$APP_IMAGE"; sha256sum "$file" | cut -d' ' -f1; printf '%s\n' "$recipe") \
    | sha256sum | cut -d' ' -f1)
  build_standin "$image" "$key" "$what" "$file" <<<"$recipe"
}

# A release that cannot start, for the Compose release tests: the same image
# with the demo's 1.1.0rc2 wheel, whose task module fails at import.
broken_wheel=$(cd "$wh" && ls celeryops_demo-1.1.0rc2-*.whl)
variant "${APP_IMAGE%:*}:broken" "a release that cannot start, for the tests" "$wh/$broken_wheel" <<DOCKERFILE
FROM $APP_IMAGE
USER 0
COPY $broken_wheel /tmp/
RUN /opt/celery-venv/bin/pip install --no-cache-dir --disable-pip-version-check --no-deps --no-index \
      --force-reinstall /tmp/$broken_wheel && rm /tmp/$broken_wheel
USER 10001:10001
DOCKERFILE

# A release that passes its health check once, then crashes, for the
# Compose rollout's settle time (scripts/images/crash_after_ready.py).
variant "${APP_IMAGE%:*}:flaky" "a release that crashes after its first health check, for the tests" \
  "$ROOT/scripts/images/crash_after_ready.py" <<DOCKERFILE
FROM $APP_IMAGE
USER 0
COPY crash_after_ready.py /tmp/
RUN site=\$(/opt/celery-venv/bin/python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])') \
 && mv /tmp/crash_after_ready.py "\$site/" \
 && echo 'import crash_after_ready; crash_after_ready.install()' > "\$site/celeryops-flaky.pth"
USER 10001:10001
DOCKERFILE

# A stand-in for the official redis image (the roles' default for a redis://
# URL, redis:7.4-bookworm), which cannot be pulled here: Debian's
# redis-server from the base image, run as 999:999 with /data owned by it,
# as the official image does, so that the Compose broker runs with the
# roles' default user. Another name, not redis:*, so that it never shadows
# the real image on a machine that has it.
redis_image="${BROKER_IMAGE:-celeryops/redis:7.4-bookworm}"
build_standin "$redis_image" "$(printf '%s\n' "$base_id" redis-999-v1 | sha256sum | cut -d' ' -f1)" \
  "stand-in for redis:7.4-bookworm, user 999" <<DOCKERFILE
FROM $BASE_IMAGE
RUN install -d -o 999 -g 999 -m 0750 /data
WORKDIR /data
USER 999:999
ENTRYPOINT []
CMD ["redis-server"]
DOCKERFILE

# A stand-in for the official rabbitmq image (the all-in-one broker of an
# amqp:// URL, rabbitmq:4.1 by default): Debian's rabbitmq-server from the
# RabbitMQ host image (scripts/build-images.sh), its user moved to uid 999
# as in the official image, so that it runs with the roles' default user.
rabbitmq_image="${RABBITMQ_BROKER_IMAGE:-celeryops/rabbitmq:debian12}"
rabbitmq_base=$(docker image inspect -f '{{.Id}}' "$RABBITMQ_IMAGE" 2>/dev/null) \
  || die "image $RABBITMQ_IMAGE missing: run scripts/build-images.sh"
build_standin "$rabbitmq_image" "$(printf '%s\n' "$rabbitmq_base" rabbitmq-999-v1 | sha256sum | cut -d' ' -f1)" \
  "stand-in for rabbitmq:4.1, user 999" <<DOCKERFILE
FROM $RABBITMQ_IMAGE
RUN usermod -u 999 rabbitmq && chown -R 999:999 /var/lib/rabbitmq /var/log/rabbitmq /etc/rabbitmq
WORKDIR /var/lib/rabbitmq
# The server itself, not Debian's wrapper (that one sends the log to a file).
ENV PATH=/usr/lib/rabbitmq/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 999:999
ENTRYPOINT ["rabbitmq-server"]
CMD []
DOCKERFILE
