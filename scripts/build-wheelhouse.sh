#!/usr/bin/env bash
# A local wheelhouse (.cache/wheelhouse) holding the demo app's wheel and every
# wheel it needs, so hosts and images install with --no-index, as a user with
# a private index or an offline site would.
source "$(dirname "$0")/lib.sh"

wh="$CACHE/wheelhouse"
stamp="$wh/.celeryops-wheelhouse.sha256"
want=$( (cat "$ROOT/requirements-wheelhouse.txt"; find "$ROOT/examples/demo_app" -type f \
  -not -path '*/build/*' -not -path '*.egg-info*' -not -name '*.pyc' -not -name Dockerfile -not -name .dockerignore | sort | xargs cat) | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  log "wheelhouse $wh up to date"
  exit 0
fi
rm -rf "$wh"
mkdir -p "$wh"
py="$VENV/bin/python"
[ -x "$py" ] || py=python3
log "downloading wheels into $wh"
"$py" -m pip download -q --disable-pip-version-check --only-binary=:all: \
  -d "$wh" -r "$ROOT/requirements-wheelhouse.txt"
log "building the demo app wheel"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cp -r "$ROOT/examples/demo_app" "$build/src"
"$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$wh" "$build/src" 2>/dev/null \
  || "$py" -m pip wheel -q --disable-pip-version-check --no-deps -w "$wh" "$build/src"
chmod -R a+rX "$wh"
echo "$want" >"$stamp"
log "wheelhouse: $(find "$wh" -name '*.whl' | wc -l) wheels"
