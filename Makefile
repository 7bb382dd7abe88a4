# celeryops.deploy: developer entry points. `make demo` and `make test` set
# up everything they need on a fresh Debian/Ubuntu machine (as root).
SHELL := /bin/bash
.DEFAULT_GOAL := help
VENV ?= $(CURDIR)/.venv
BIN := $(VENV)/bin
export PATH := $(BIN):$(PATH)
# The collection as Ansible sees it from this checkout.
COLLECTIONS := $(CURDIR)/.cache/collections
export ANSIBLE_COLLECTIONS_PATH := $(COLLECTIONS)
SCENARIOS ?= systemd compose kubernetes rabbitmq
# make demo PLATFORM=compose: the demo as a Docker Compose project.
PLATFORM ?= systemd

.PHONY: help setup host venv wheelhouse images app-image k8s-tools prometheus chromium link lint unit input sanity static molecule demo-check bench bench-smoke docs faults break-checks test demo clean

help:
	@echo "make demo   - set up this machine, deploy the demo app with the collection, answer a task"
	@echo "make test   - lint, unit tests, sanity, build/install check, Molecule ($(SCENARIOS))"
	@echo "make setup  - only the setup: Docker engine, Compose v2, base image, wheelhouse, venv"
	@echo "make demo PLATFORM=compose - the same demo as a Docker Compose project on this machine"
	@echo "make demo DEMO_DOWN=1 - remove the demo containers (add PLATFORM=compose for that one)"
	@echo "make docs   - write the role specs' shared options and the variables tables of the READMEs"
	@echo "make faults - kill, restart and cut the broker under load; count lost/duplicated tasks"
	@echo "make break-checks - break README behaviours on purpose: the scenarios' checks must fail"
	@echo "make bench  - plan vs Celery defaults vs a sweep, real workers on a loopback Redis (about 20 min)"

venv:
	scripts/ensure-venv.sh

host:
	scripts/ensure-docker.sh

images: host
	scripts/build-images.sh

wheelhouse: venv
	scripts/build-wheelhouse.sh

# The demo app's image for the Docker Compose deployment (offline build).
app-image: images wheelhouse
	scripts/build-app-image.sh

# kubernetes-validate and checkov, in their own venv (kubernetes scenario).
k8s-tools:
	scripts/ensure-k8s-tools.sh

# Put this checkout where Ansible looks for celeryops.deploy.
# Left alone when it is right: `ln -sfn` removes the link before it makes the
# new one, and the checks of `make test` run this beside the scenarios.
link:
	@mkdir -p $(COLLECTIONS)/ansible_collections/celeryops
	@[ "$$(readlink $(COLLECTIONS)/ansible_collections/celeryops/deploy)" = "$(CURDIR)" ] \
	  || ln -sfn $(CURDIR) $(COLLECTIONS)/ansible_collections/celeryops/deploy

setup: venv host images wheelhouse app-image link

lint: venv link
	$(BIN)/python scripts/role_docs.py --check
	$(BIN)/python scripts/docs_check.py
	$(BIN)/antsibull-changelog lint
	$(BIN)/antsibull-changelog generate --output $(CURDIR)/.cache/CHANGELOG.md
	cmp -s CHANGELOG.md .cache/CHANGELOG.md || { echo 'CHANGELOG.md is not what changelogs/changelog.yaml renders (antsibull-changelog generate)'; exit 1; }
	$(BIN)/yamllint -s .
	$(BIN)/ansible-lint --offline --profile production

# The launcher tests run real workers on a throwaway redis-server.
# promtool (Debian's prometheus, its service never started).
prometheus:
	scripts/ensure-prometheus.sh

# Debian's chromium: the compose scenario opens Flower in it, headless.
chromium:
	scripts/ensure-chromium.sh

unit: venv link prometheus
	scripts/ensure-redis.sh
	# Two at a time, work-stealing: the launcher's heartbeat tests (90 s of
	# the 120) mostly wait, each on its own Redis; 76 s instead of 122.
	cd $(COLLECTIONS)/ansible_collections/celeryops/deploy && $(BIN)/python -m pytest -q -n 2 --dist worksteal tests/unit

# Wrong input fails in preflight, naming the variable, and leaves the host unchanged (real role runs).
# Each file on its own worker: the batched runs (test_bad_input.py) beside
# the single ones (test_single_runs.py).
input: venv link
	$(BIN)/python -m pytest -q -n 2 --dist loadfile tests/input

sanity: venv
	scripts/sanity.sh

# lint (ansible-lint) and sanity (ansible-test) each keep about one core busy
# for a minute or more: side by side, each one's output kept together.
static: venv link
	$(MAKE) --no-print-directory -j2 --output-sync=target lint sanity

molecule: setup k8s-tools prometheus chromium
	SCENARIOS="$(SCENARIOS)" scripts/molecule.sh

# The build/install check: the demo builds the tarball, installs it into an
# empty collections path and runs celeryops.deploy.demo from there.
demo-check: setup
	scripts/demo-check.sh

# The benchmark is not a test; `make test` runs only its smoke run.
bench: venv link
	scripts/bench.sh

bench-smoke: venv link
	scripts/bench.sh --quick

# Fault tests (restarts, SIGKILL, broker outage, config change, beat
# restart) on the demo, Compose and systemd; not part of `make test`.
# Role specs' shared options and the READMEs' variables tables, from the specs.
docs: venv
	$(BIN)/python scripts/role_docs.py

faults: setup
	scripts/faults.sh

break-checks: setup
	scripts/break-checks.sh

# Every tool first (Docker, Compose, the k8s tools), so that no test skips
# for a missing one: under `make test` a missing tool fails the test.
test: export CELERYOPS_REQUIRE_TOOLS=1
# The demo check runs beside the scenarios, at the end of the shorter chain;
# lint, sanity and the bad-input runs beside both chains, at a lower
# priority, in the CPU the chains leave idle (scripts/molecule.sh).
test: setup k8s-tools prometheus chromium unit bench-smoke
	SCENARIOS="$(SCENARIOS)" DEMO_CHECK=1 CHECKS="static input" scripts/molecule.sh

demo: setup
	PLATFORM=$(PLATFORM) scripts/demo.sh

clean:
	-for s in $(SCENARIOS); do $(BIN)/molecule destroy -s $$s; done
	rm -rf .cache/collections tests/output
