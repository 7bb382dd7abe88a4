#!/usr/bin/env bash
# A local wheelhouse (.cache/wheelhouse) holding the demo app's wheel and every
# wheel it needs, so hosts and images install with --no-index, as a user with
# a private index or an offline site would.
source "$(dirname "$0")/lib.sh"

wh="$CACHE/wheelhouse"
stamp="$wh/.celeryops-wheelhouse.sha256"
want=$( (cat "$ROOT/requirements-wheelhouse.txt" "$0"; find "$ROOT/examples/demo_app" -type f \
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
log "building the demo app wheels"
build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
demo_wheel() {  # demo_wheel <version> [broken]
  local src="$build/$1"
  cp -r "$ROOT/examples/demo_app" "$src"
  sed -i "s/^version = .*/version = \"$1\"/" "$src/pyproject.toml"
  if [ "${2:-}" = broken ]; then
    # A release whose task module fails at import: workers cannot start.
    printf '\nraise ImportError("celeryops-demo %s is broken on purpose (release tests)")\n' "$1" \
      >>"$src/src/celeryops_demo/tasks.py"
  fi
  "$py" -m pip wheel -q --disable-pip-version-check --no-deps --no-build-isolation -w "$wh" "$src" 2>/dev/null \
    || "$py" -m pip wheel -q --disable-pip-version-check --no-deps -w "$wh" "$src"
}
demo_wheel 1.0.0
# Releases for the tests (pre-releases, so an unpinned `celeryops-demo` still
# takes 1.0.0): a good next release and one that cannot start.
demo_wheel 1.1.0rc1
demo_wheel 1.1.0rc2 broken
chmod -R a+rX "$wh"
echo "$want" >"$stamp"
log "wheelhouse: $(find "$wh" -name '*.whl' | wc -l) wheels"
