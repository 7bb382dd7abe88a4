#!/usr/bin/env bash
# ansible-test sanity on the collection's plugins. ansible-test wants the
# collection at .../ansible_collections/<ns>/<name>, so a copy of the tracked
# (and new, not ignored) files is made there. ansible-test's own --venv mode
# downloads a pip bootstrap from a host this machine cannot reach, so its
# tools (pinned by ansible-core) go into a venv of ours instead, kept apart
# from the main tool venv.
source "$(dirname "$0")/lib.sh"

# ansible-test's shellcheck test checks the scripts when shellcheck exists.
apt_install shellcheck git

svenv="$CACHE/sanity-venv"
core=$(grep -E '^ansible-core==' "$ROOT/requirements-dev.txt")
if ! venv_cached sanity "$(echo "$core" | sha256sum | cut -d' ' -f1)" "$svenv"; then
  "$svenv/bin/pip" install -q --disable-pip-version-check "$core"
  fresh=1
fi

dest="$CACHE/sanity/ansible_collections/celeryops/deploy"
rm -rf "$dest"
mkdir -p "$dest"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$dest"/ 2>/dev/null) \
  || (cd "$ROOT" && tar --exclude=.git --exclude=.venv --exclude=.cache -cf - . | tar -C "$dest" -xf -)
# ansible-test fetches a pip bootstrap script per sanity venv unless one is
# cached: give it ours, under the name of the pip version it pins.
pipv=$("$svenv/bin/python" -c 'import re, ansible_test, pathlib; p = pathlib.Path(ansible_test.__file__).parent / "_internal/python_requirements.py"; print(re.search(r"pip=.([0-9.]+).", p.read_text()).group(1))')
mkdir -p "$HOME/.ansible/test/cache"
install -m 0644 "$ROOT/scripts/get_pip_shim.py" "$HOME/.ansible/test/cache/get_pip_${pipv//./_}.py"
cd "$dest"
# A git repo so ansible-test sees exactly these files.
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# --requirements installs the sanity tools pinned by ansible-core; only needed once.
# The venv counts as complete once a run that installed its tools passed.
"$svenv/bin/ansible-test" sanity --python 3.11 --color no ${fresh:+--requirements} "$@"
venv_complete "$svenv"
