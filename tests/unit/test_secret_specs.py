"""Every variable that can hold a secret is no_log in every spec that lists it.

Argument validation and ansible-doc read the specs: an option marked no_log
has its value masked in the validation task's output (a failed validation
prints the values it rejects). Which options can hold a secret is decided by
name here, so a new `*_environment`, `*_password` or `*_url` option is
covered the day it is added: connection URLs (user:password@), passwords,
logins, environments (the app's tokens) and pip's arguments (an index URL
with a password).
"""

import glob
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECRET = re.compile(r'(_url|_backend|password|basic_auth|environment|_env|_pip_extra_args)$')
# Names that match but hold no secret, and why.
NOT_SECRET = {
    'celery_flower_url_prefix': 'a URL path',
}


def _options(spec, prefix=''):
    """(dotted name, option) of every option and suboption of one entry point."""
    for name, option in (spec or {}).items():
        yield prefix + name, option
        for item in _options(option.get('options'), prefix + name + '.'):
            yield item


def secret_options():
    found = []
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))):
        role = path.split(os.sep)[-3]
        with open(path) as handle:
            specs = yaml.safe_load(handle)['argument_specs']
        for entry, spec in specs.items():
            for name, option in _options(spec.get('options')):
                if SECRET.search(name.rsplit('.', 1)[-1]) and name not in NOT_SECRET:
                    found.append(('%s:%s' % (role, entry), name, option))
    return found


def test_every_secret_option_is_no_log():
    unmarked = ['%s %s' % (where, name) for where, name, option in secret_options() if option.get('no_log') is not True]
    assert unmarked == [], 'options that can hold a secret without no_log: true: %s' % unmarked


def test_the_secret_names_are_found():
    # The name rule finds the variables it is for (a rule that matched
    # nothing would pass the test above).
    names = set(name for _where, name, _option in secret_options())
    for expected in ('celery_broker_url', 'celery_result_backend', 'celery_environment', 'celery_pip_extra_args',
                     'celery_beat_environment', 'celery_flower_environment', 'celery_flower_basic_auth',
                     'celery_compose_broker_password', 'celery_beat_redbeat_redis_url',
                     'celery_worker_groups.environment'):
        assert expected in names, expected
