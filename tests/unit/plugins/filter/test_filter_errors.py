"""Every filter of the collection goes through the one error wrapper: bad
input fails the task with an AnsibleFilterError that names the filter."""

import glob
import importlib
import os

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import ansible_filter

FILTER_DIR = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'plugins', 'filter')
MODULES = sorted(os.path.basename(path)[:-3] for path in glob.glob(os.path.join(FILTER_DIR, '*.py')))


def _filters(module):
    return importlib.import_module('ansible_collections.celeryops.deploy.plugins.filter.' + module).FilterModule().filters()


@pytest.mark.parametrize('module', MODULES)
def test_every_filter_is_wrapped(module):
    found = _filters(module)
    assert found
    for name, function in found.items():
        assert getattr(function, '__wrapped__', None) is not None, name


@pytest.mark.parametrize('error', [ValueError('bad value'), TypeError('bad type'), KeyError('queues')])
def test_wrapper_names_the_filter(error):
    def broken(_value):
        raise error
    with pytest.raises(AnsibleFilterError, match='^my_filter: .*(bad value|bad type|queues)'):
        ansible_filter('my_filter', broken)(1)


def test_wrapper_passes_results_and_other_errors():
    assert ansible_filter('f', lambda value: value + 1)(1) == 2

    def boom(_value):
        raise RuntimeError('a bug, not bad input')
    with pytest.raises(RuntimeError):
        ansible_filter('f', boom)(1)


def test_a_real_filter_fails_naming_itself():
    quote = _filters('systemd_env_quote')['systemd_env_quote']
    with pytest.raises(AnsibleFilterError, match='^systemd_env_quote: '):
        quote('two\nlines')
