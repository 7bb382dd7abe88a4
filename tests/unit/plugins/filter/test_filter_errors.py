"""Every filter of the collection goes through the one error wrapper: bad
input fails the task with an AnsibleFilterError that names the filter; and
every filter has its documentation beside it (<name>.yml, the sidecar pattern
of community.general), the grouped plugin files holding none.

The checks run in a child interpreter: importing Ansible's controller side
(ansible.errors) in the pytest process changes how AnsibleModule reports
warnings, which the module tests read."""

import json
import os
import subprocess
import sys

import yaml

FILTER_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', '..', 'plugins', 'filter')

CHILD = r'''
import glob, importlib, json, os, sys
from ansible.errors import AnsibleFilterError
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import ansible_filter

out = {'unwrapped': [], 'modules': 0, 'filters': []}
for path in sorted(glob.glob(os.path.join(sys.argv[1], '*.py'))):
    name = os.path.basename(path)[:-3]
    found = importlib.import_module('ansible_collections.celeryops.deploy.plugins.filter.' + name).FilterModule().filters()
    out['modules'] += 1
    if not found:
        out['unwrapped'].append(name + ': no filters')
    out['unwrapped'] += [key for key, function in found.items() if getattr(function, '__wrapped__', None) is None]
    out['filters'] += sorted(found)

def failure(function, *args):
    try:
        function(*args)
    except AnsibleFilterError as exc:
        return 'AnsibleFilterError: %s' % exc.message
    except Exception as exc:
        return '%s: %s' % (type(exc).__name__, exc)
    return 'no error'

def raising(error):
    def broken(_value):
        raise error
    return broken

out['wrapped'] = [failure(ansible_filter('my_filter', raising(error)), 1)
                  for error in (ValueError('bad value'), TypeError('bad type'), KeyError('queues'))]
out['bug'] = failure(ansible_filter('f', raising(RuntimeError('a bug'))), 1)
out['result'] = ansible_filter('f', lambda value: value + 1)(1)
quote = importlib.import_module('ansible_collections.celeryops.deploy.plugins.filter.systemd')
out['real'] = failure(quote.FilterModule().filters()['systemd_env_quote'], 'two\nlines')
print(json.dumps(out))
'''


def _child():
    proc = subprocess.run([sys.executable, '-c', CHILD, FILTER_DIR], capture_output=True, text=True, timeout=120,
                          check=False, env=dict(os.environ, PYTHONPATH=os.pathsep.join(path for path in sys.path if path)))
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


RESULT = {}


def result():
    if not RESULT:
        RESULT.update(_child())
    return RESULT


def test_every_filter_is_wrapped():
    assert result()['modules'] == 7
    assert len(result()['filters']) == 27
    assert result()['unwrapped'] == []


def test_every_filter_has_its_sidecar_doc_and_every_doc_a_filter():
    # A leading underscore marks the roles' own steps (_celery_internal.py): undocumented on purpose.
    docs = sorted(name[:-4] for name in os.listdir(FILTER_DIR) if name.endswith('.yml'))
    assert docs == sorted(name for name in result()['filters'] if not name.startswith('_'))
    for name in docs:
        with open(os.path.join(FILTER_DIR, name + '.yml')) as handle:
            doc = yaml.safe_load(handle)
        assert sorted(doc) == ['DOCUMENTATION', 'EXAMPLES', 'RETURN'], name
        assert doc['DOCUMENTATION']['name'] == name
        assert 'celeryops.deploy.%s' % name in doc['EXAMPLES'], name


def test_wrapper_names_the_filter():
    assert result()['wrapped'] == ['AnsibleFilterError: my_filter: bad value', 'AnsibleFilterError: my_filter: bad type',
                                   "AnsibleFilterError: my_filter: 'queues'"]


def test_wrapper_passes_results_and_other_errors():
    assert result()['result'] == 2
    assert result()['bug'] == 'RuntimeError: a bug'


def test_a_real_filter_fails_naming_itself():
    assert result()['real'].startswith('AnsibleFilterError: systemd_env_quote: ')
