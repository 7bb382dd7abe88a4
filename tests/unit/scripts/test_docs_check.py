"""scripts/docs_check.py: the docs name only links, variables, targets, breaks and files that exist."""

import importlib.util
import os

import pytest

SCRIPT = os.path.join(os.path.dirname(__file__), '..', '..', '..', 'scripts', 'docs_check.py')
ROOT = os.path.join(os.path.dirname(__file__), '..', '..', '..')
spec = importlib.util.spec_from_file_location('docs_check', SCRIPT)
docs_check = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs_check)

SPEC = '''---
argument_specs:
  main:
    options:
      celery_worker_groups:
        type: list
        options:
          name: {type: str}
      celery_app_name: {type: str}
'''
GOOD = '''# Demo

## Install it

Set `celery_app_name` and `celery_worker_groups`, run `make test` or
`SCENARIOS=systemd make molecule`, `BREAKS="drop_skipped late_duplicate" make break-checks`;
read `scripts/x.py`, `roles/celery_worker/tasks/<name>.yml` and [the role](roles/celery_worker/README.md),
[this](#install-it), [the other page](docs/other.md#a-section), the `celery_worker` role,
the `celery_worker_plan` module, a `celery_status_json` playbook input.

```yaml
celery_app_name: shop
```
'''


@pytest.fixture
def tree(tmp_path):
    files = {
        'Makefile': 'test: lint\n\techo\nmolecule:\n\techo\nbreak-checks:\n',
        'roles/celery_worker/meta/argument_specs.yml': SPEC,
        'roles/celery_worker/README.md': '# celery_worker\n',
        'roles/celery_worker/tasks/main.yml': '---\n',
        'plugins/modules/celery_worker_plan.py': '',
        'playbooks/status.yml': "- hosts: celery_workers\n  tasks:\n    - debug: {msg: \"{{ celery_status_json | default('') }}\"}\n",
        'scripts/x.py': '',
        'scripts/break-checks.sh': 'declare -A expect=(\n  [systemd:drop_skipped]="The dropped group"\n)\n',
        'tests/faults/break_on_purpose.py': "CASES = {\n    'late_duplicate': (None, 'duplicated'),\n}\n",
        'molecule/systemd/molecule.yml': '---\n',
        'docs/other.md': '# Other\n\n## A section\n',
        'README.md': GOOD,
    }
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def problems(tree):
    return [entry[1] for found in docs_check.check(str(tree)).values() for entry in found]


def test_a_page_naming_only_what_exists_passes(tree):
    assert problems(tree) == []


@pytest.mark.parametrize('text, expected', [
    ('Set `celery_app_nmae`.', 'celery_app_nmae: no role spec'),
    ('Run `make tests`.', 'make tests: no such target'),
    ('Run `SCENARIOS=sytemd make molecule`.', 'sytemd is not a known scenario'),
    ('Run `BREAKS=drop_skiped make break-checks`.', 'drop_skiped is not a known break'),
    ('See `scripts/y.py`.', 'scripts/y.py: no such file'),
    ('See [the page](docs/missing.md).', 'docs/missing.md: no such file'),
    ('See [there](docs/other.md#no-such-section).', 'has no heading with that anchor'),
    ('See [here](#nowhere).', 'has no heading with that anchor'),
    ('```yaml\ncelery_flower_prot: 5555\n```', 'celery_flower_prot: no role spec'),
])
def test_each_dangling_name_is_reported(tree, text, expected):
    (tree / 'README.md').write_text(GOOD + '\n' + text + '\n')
    found = problems(tree)
    assert len(found) == 1 and expected in found[0], found


def test_the_anchor_of_a_heading_is_githubs():
    assert docs_check.anchor("Alerts (Prometheus rules) and Flower's scrape targets") == \
        'alerts-prometheus-rules-and-flowers-scrape-targets'
    assert docs_check.anchor('When something is wrong: `celeryops.deploy.status`') == \
        'when-something-is-wrong-celeryopsdeploystatus'


def test_the_collections_docs_pass():
    found = docs_check.check(ROOT)
    assert not found, found
