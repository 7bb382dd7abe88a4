"""The example inventory shows the roles' defaults, except where it says not.

Every variable set under examples/inventory/ is presented as the default,
unless it is required (no default: the app's name, module, broker) or listed
in DELIBERATE below with the reason the example changes it. A presented
default must equal the role's: the spec's `default:` and defaults/main.yml
(both, where both give one). A default that only names other variables
(`/opt/celery/{{ celery_app_name }}`) is compared after putting in the
example's (or the default) value of each; any other template is skipped.
A deliberate change must differ from the default and say "not the default"
in a comment on its line or right above it.
"""

import glob
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
INVENTORY = os.path.join(ROOT, 'examples', 'inventory')

# Variables the example sets to something else than the default, and why.
DELIBERATE = {
    'celery_result_backend': 'the example app keeps task results (default: none)',
    'celery_environment': "the app's own settings and secrets",
    'celery_python_packages': 'the app to install (default: none)',
    'celery_worker_groups': 'two groups shaped for their tasks instead of one default group',
    'celery_flower_url_prefix': 'Flower behind a proxy under /flower/',
    'celery_flower_basic_auth': 'the login Flower requires (default: none, which the role refuses)',
    'celery_flower_persistent': 'task history kept across restarts',
}

TEMPLATE = re.compile(r'{{\s*(.*?)\s*}}')
NAME = re.compile(r'^[a-z_][a-z0-9_]*$')


def _load(path):
    with open(path) as handle:
        return yaml.safe_load(handle) or {}


def _inventory_vars(node, found):
    """Variables of an inventory file's groups and hosts (`vars:`, host values)."""
    if not isinstance(node, dict):
        return
    found.update(node.get('vars') or {})
    for host in (node.get('hosts') or {}).values():
        found.update(host or {})
    for child in (node.get('children') or {}).values():
        _inventory_vars(child, found)


def example_files():
    """{path: {variable: value}} of every file under examples/inventory/."""
    files = {}
    for path in sorted(glob.glob(os.path.join(INVENTORY, '**', '*.yml'), recursive=True)):
        data = _load(path)
        if os.path.basename(os.path.dirname(path)) in ('group_vars', 'host_vars'):
            files[path] = dict(data)
        else:
            found = {}
            for group in data.values():
                _inventory_vars(group, found)
            files[path] = found
    return files


def role_options():
    """{variable: (spec option, defaults/main.yml has it, its value)} over every
    role (a shared variable is in every public role's spec and in
    celery_common's defaults/main.yml)."""
    specs, defaults = {}, {}
    for role_dir in sorted(glob.glob(os.path.join(ROOT, 'roles', '*'))):
        defaults.update(_load(os.path.join(role_dir, 'defaults', 'main.yml')))
        spec = _load(os.path.join(role_dir, 'meta', 'argument_specs.yml'))
        for name, option in spec['argument_specs']['main']['options'].items():
            specs.setdefault(name, option)
    return dict((name, (option, name in defaults, defaults.get(name))) for name, option in specs.items())


EXAMPLES = example_files()
OPTIONS = role_options()
EXAMPLE_VARS = dict((name, value) for values in EXAMPLES.values() for name, value in values.items())


def resolve(value, depth=0):
    """A default that only names variables, with their values put in; None
    when it holds anything else (a filter, an expression)."""
    if not isinstance(value, str) or '{{' not in value:
        return value
    names = TEMPLATE.findall(value)
    if depth > 5 or not all(NAME.match(name) for name in names):
        return None
    parts = {}
    for name in names:
        if name in EXAMPLE_VARS:
            parts[name] = EXAMPLE_VARS[name]
        elif name in OPTIONS:
            parts[name] = resolve(OPTIONS[name][2], depth + 1)
        else:
            return None
        if not isinstance(parts[name], (str, int)):
            return None
    return TEMPLATE.sub(lambda match: str(parts[match.group(1)]), value)


def defaults_of(name):
    """The role's default(s) of a variable: the spec's and defaults/main.yml's."""
    option, in_defaults, value = OPTIONS[name]
    found = []
    if 'default' in option:
        found.append(('meta/argument_specs.yml', option['default']))
    if in_defaults:
        found.append(('defaults/main.yml', value))
    return found


def test_the_example_sets_variables():
    """Not vacuous: the file is found and read."""
    assert len(EXAMPLE_VARS) > 20, sorted(EXAMPLES)


@pytest.mark.parametrize('name', sorted(EXAMPLE_VARS))
def test_a_presented_default_is_the_roles(name):
    assert name in OPTIONS, '%s: no role knows this variable' % name
    if name in DELIBERATE:
        pytest.skip('set on purpose: %s' % DELIBERATE[name])
    option = OPTIONS[name][0]
    found = defaults_of(name)
    if not found:
        assert option.get('required'), '%s: the example sets it, no role gives it a default and it is not required' % name
        return
    for source, default in found:
        expected = resolve(default)
        if expected is None:
            continue  # a template this test does not evaluate
        assert EXAMPLE_VARS[name] == expected, (
            '%s: examples/inventory sets %r and presents it as the default, but the default (%s) is %r; '
            'set the default, or list it in DELIBERATE and say so in a comment there'
            % (name, EXAMPLE_VARS[name], source, default))


@pytest.mark.parametrize('name', sorted(DELIBERATE))
def test_a_deliberate_change_is_one_and_says_so(name):
    assert name in EXAMPLE_VARS, '%s: in DELIBERATE but not set by the example (drop it there)' % name
    for source, default in defaults_of(name):
        assert EXAMPLE_VARS[name] != resolve(default), (
            '%s: in DELIBERATE but the example sets the default (%s) (drop it there)' % (name, source))
    path = [path for path, values in EXAMPLES.items() if name in values][0]
    with open(path) as handle:
        lines = handle.read().splitlines()
    at = [number for number, line in enumerate(lines) if re.match(r'\s*%s:' % name, line)][0]
    comment = lines[at].partition('#')[2]
    above = at - 1
    while above >= 0 and lines[above].lstrip().startswith('#'):
        comment += lines[above]
        above -= 1
    assert 'not the default' in comment.lower(), (
        '%s: %s sets it on purpose but no comment there says "not the default"' % (name, path))
