"""The role specs: maps say what they hold; secrets are no_log.

A dict option, or a list of dicts, without `options` (suboptions) gets no
validation from the role's argument spec: any key, any value passes until
some later task trips on it. So every such option of a role's main entry
point has suboptions, unless it is a free-form map listed in ALLOWED below
with the reason (environments, Celery settings, Kubernetes objects passed
through, systemd directives).

The suboptions must accept what the scenarios and examples pass: the values
of the variables given suboptions, as the inventories, the scenarios' task
vars and the READMEs' YAML examples set them, are validated against each
role's spec with Ansible's own validator (the one the roles' "Validating
arguments" task runs). Jinja templates are left out (they are only values
once Ansible renders them).

Every option that can hold a secret is no_log, in every entry point that
lists it: argument validation masks such a value in its output (a failed
validation prints the values it rejects). Which options can hold one is
decided by name (SECRET), so a new `*_environment`, `*_password` or `*_url`
option is covered the day it is added: connection URLs (user:password@),
passwords, logins, environments (the app's tokens) and pip's arguments (an
index URL with a password).
"""

import glob
import os
import re

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_beat, _celery_k8s

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Pod settings passed through to Kubernetes as they are, under every *k8s_pod option.
POD_PASS_THROUGH = {
    'node_selector': 'Kubernetes nodeSelector: any node labels',
    'affinity': 'a Kubernetes affinity object, passed through',
    'tolerations': 'Kubernetes tolerations, passed through',
    'topology_spread_constraints': 'Kubernetes topologySpreadConstraints, passed through',
    'labels': 'Kubernetes labels: any names (preflight refuses the selector ones)',
    'annotations': 'Kubernetes annotations: any names (preflight refuses the checksum/ ones)',
    'volumes': 'Kubernetes volumes, passed through',
    'volume_mounts': 'Kubernetes volumeMounts, passed through',
}
POD_OPTIONS = ('celery_k8s_pod', 'celery_beat_k8s_pod', 'celery_flower_k8s_pod', 'celery_worker_k8s_pod',
               'celery_worker_groups.k8s_pod')
ENVIRONMENT = 'environment variables: any names (preflight checks the names and values)'
CELERY_SETTINGS = ('Celery settings: any setting name (preflight checks the form; the launcher checks the names '
                   'against the installed Celery)')
SANDBOX = 'systemd sandbox directives: any directive name (name to value)'
PEERS = 'Kubernetes NetworkPolicy peers, passed through'
# Dotted option name (suboptions after a dot) -> why it has no suboptions.
ALLOWED = dict({
    'celery_environment': ENVIRONMENT,
    'celery_beat_environment': ENVIRONMENT,
    'celery_flower_environment': ENVIRONMENT,
    'celery_worker_groups.environment': ENVIRONMENT,
    'celery_k8s_config': 'the ConfigMap <app>-config: any environment variable names',
    'celery_worker_settings': CELERY_SETTINGS,
    'celery_worker_groups.settings': CELERY_SETTINGS,
    'celery_beat_k8s_cronjobs.kwargs': "the task's keyword arguments: any names",
    'celery_systemd_sandbox': SANDBOX,
    'celery_systemd_sandbox_overrides': SANDBOX,
    'celery_k8s_node_selector': POD_PASS_THROUGH['node_selector'],
    'celery_k8s_tolerations': POD_PASS_THROUGH['tolerations'],
    'celery_k8s_prometheus_labels': 'Kubernetes labels of the PrometheusRule and ServiceMonitor: any names',
    'celery_k8s_prometheus_from': PEERS,
    'celery_flower_k8s_ingress_from': PEERS,
}, **dict(('%s.%s' % (pod, key), reason) for pod in POD_OPTIONS for key, reason in POD_PASS_THROUGH.items()))

# The variables given suboptions whose values test_scenario_values_pass_the_specs checks.
CHECKED = ('celery_beat_alert_tasks', 'celery_beat_k8s_cronjobs', 'celery_k8s_probes')
# Where the scenarios and examples set variables: inventories, and the
# scenarios' own tasks and playbooks (task vars such as cron_render.yml's).
VALUE_FILES = ('molecule/*/host_vars/*.yml', 'molecule/shared/group_vars/all/*.yml',
               'examples/*/group_vars/*.yml', 'molecule/*/*.yml', 'molecule/*/tasks/*.yml')
READMES = ('README.md', 'roles/*/README.md', 'docs/*.md')


class _Loader(yaml.SafeLoader):
    """Ansible's YAML: !unsafe values are what they say; a !vault value is left out (see _untemplated)."""


class _Hidden(object):
    pass


def _construct(loader, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_mapping(node, deep=True)


_Loader.add_constructor('!unsafe', _construct)
_Loader.add_multi_constructor('!', lambda loader, suffix, node: _Hidden())


def _load(path):
    with open(path) as handle:
        return yaml.load(handle, Loader=_Loader)  # nosec B506: a SafeLoader


def entry_points():
    """{(role, entry point): its options}, every entry point of every role."""
    specs = {}
    for path in sorted(glob.glob(os.path.join(ROOT, 'roles', '*', 'meta', 'argument_specs.yml'))):
        for entry, spec in _load(path)['argument_specs'].items():
            specs[(path.split(os.sep)[-3], entry)] = spec.get('options') or {}
    return specs


def main_specs():
    """{role: options of its main entry point}."""
    return dict((role, options) for (role, entry), options in entry_points().items() if entry == 'main')


def _options(options, prefix=''):
    """(dotted name, option) of every option and suboption."""
    for name, option in (options or {}).items():
        yield prefix + name, option
        yield from _options(option.get('options'), prefix + name + '.')


def _is_map(option):
    return option.get('type') == 'dict' or (option.get('type') == 'list' and option.get('elements') == 'dict')


def maps_without_suboptions():
    """(role, dotted name) of every dict or list-of-dicts option without suboptions."""
    return [(role, name) for role, options in main_specs().items()
            for name, option in _options(options) if _is_map(option) and not option.get('options')]


def test_every_map_option_has_suboptions():
    missing = sorted(set('%s (role %s)' % (name, role) for role, name in maps_without_suboptions()
                         if name not in ALLOWED))
    assert missing == [], ('dict and list-of-dicts options without suboptions (give them `options:`, or list them '
                           'in ALLOWED with the reason they are free-form): %s' % ', '.join(missing))


def test_the_allow_list_is_current():
    # Each entry names a free-form map that is still in a spec, with a reason.
    found = set(name for _role, name in maps_without_suboptions())
    stale = sorted(name for name in ALLOWED if name not in found)
    assert stale == [], 'ALLOWED lists options that are gone or now have suboptions: %s' % stale
    assert all(reason.strip() for reason in ALLOWED.values())


def _untemplated(value):
    """value without its Jinja templates (a templated key or item is left out); None when it is one."""
    if isinstance(value, _Hidden) or (isinstance(value, str) and ('{{' in value or '{%' in value)):
        return None
    if isinstance(value, dict):
        return dict((key, _untemplated(item)) for key, item in value.items() if _untemplated(item) is not None)
    if isinstance(value, list):
        return [_untemplated(item) for item in value if _untemplated(item) is not None]
    return value


def _set_in(node, found, where):
    """Every value of a CHECKED variable anywhere in a YAML document (inventory
    variables, a task's vars, an example)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in CHECKED:
                found.append((where, key, value))
            else:
                _set_in(value, found, where)
    elif isinstance(node, list):
        for item in node:
            _set_in(item, found, where)


def scenario_values():
    """[(where, variable, value)] over the scenarios, the examples and the READMEs' YAML."""
    found = []
    for pattern in VALUE_FILES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            _set_in(_load(path), found, os.path.relpath(path, ROOT))
    for pattern in READMES:
        for path in sorted(glob.glob(os.path.join(ROOT, pattern))):
            with open(path) as handle:
                blocks = re.findall(r'^```ya?ml\n(.*?)^```', handle.read(), re.M | re.S)
            for number, block in enumerate(blocks):
                try:
                    data = yaml.safe_load(block)
                except yaml.YAMLError:
                    continue
                _set_in(data, found, '%s (YAML example %d)' % (os.path.relpath(path, ROOT), number + 1))
    return [(where, name, _untemplated(value)) for where, name, value in found if _untemplated(value) is not None]


def _errors(name, value):
    """Validation errors of value under every role spec that has the variable; {role: messages}."""
    errors = {}
    for role, options in main_specs().items():
        if name in options:
            messages = ArgumentSpecValidator({name: options[name]}).validate({name: value}).error_messages
            if messages:
                errors[role] = messages
    return errors


VALUES = scenario_values()


def test_the_scenario_values_are_found():
    # The scenarios set these (a search that found nothing would pass below).
    names = set(name for _where, name, _value in VALUES)
    assert {'celery_beat_alert_tasks', 'celery_beat_k8s_cronjobs'} <= names, names
    wheres = set(where for where, _name, _value in VALUES)
    assert 'molecule/kubernetes/tasks/cron_render.yml' in wheres, wheres


@pytest.mark.parametrize('where, name, value', VALUES, ids=['%s:%s' % (where, name) for where, name, _value in VALUES])
def test_scenario_values_pass_the_specs(where, name, value):
    assert _errors(name, value) == {}, '%s: %s' % (where, name)


@pytest.mark.parametrize('name, value, fragment', [
    ('celery_beat_alert_tasks', [{'task': 'shop.tasks.tick', 'every_s': 2.5}], 'every_s'),
    ('celery_beat_alert_tasks', [{'task': 'shop.tasks.tick', 'every': 60}], 'every'),
    ('celery_beat_k8s_cronjobs', [{'name': 'tick', 'task': 'shop.tasks.tick', 'schedule': '@hourly', 'kwargs': [1]}],
     'kwargs'),
    ('celery_k8s_probes', {'liveness': {'periodSecond': 30}}, 'periodSecond'),
    ('celery_k8s_probes', {'startUp': {'periodSeconds': 30}}, 'startUp'),
])
def test_the_specs_refuse_wrong_values(name, value, fragment):
    # The check above can fail: the validator refuses what the suboptions do not allow.
    errors = _errors(name, value)
    assert errors, 'accepted %r' % value
    assert all(any(fragment in message for message in messages) for messages in errors.values()), errors


@pytest.mark.parametrize('name, value', [
    # Kinds preflight words its own message for (tests/input/test_bad_input.py):
    # the spec lets them through to it.
    ('celery_beat_k8s_cronjobs', [{'name': 'tick', 'task': 'shop.tasks.tick', 'schedule': 'every 5 minutes'}]),
    ('celery_beat_k8s_cronjobs', [{'name': 'Tick_1', 'task': 'not a task', 'schedule': 5, 'args': 'x',
                                   'expires_s': '600', 'queue': 'bad queue'}]),
    ('celery_beat_alert_tasks', [{'task': 'shop.tasks.tick'}]),
    ('celery_beat_alert_tasks', [{'task': 'shop.tasks.tick', 'every_s': 0}]),
    ('celery_k8s_probes', {'startup': {'failureThreshold': '60'}}),
])
def test_the_specs_leave_the_checks_to_preflight(name, value):
    assert _errors(name, value) == {}


def test_the_suboptions_are_the_keys_the_code_reads():
    beat = main_specs()['celery_beat']
    assert list(beat['celery_beat_k8s_cronjobs']['options']) == list(_celery_beat.CRON_KEYS)
    # alert_task_errors wants exactly these keys.
    assert sorted(beat['celery_beat_alert_tasks']['options']) == ['every_s', 'task']
    probes = main_specs()['celery_common']['celery_k8s_probes']['options']
    assert list(probes) == ['startup', 'readiness', 'liveness']
    for kind, option in probes.items():
        timing = _celery_k8s._timing({}, kind)  # the defaults, which the descriptions give
        assert sorted(option['options']) == sorted(timing), kind
        for key, value in timing.items():
            assert option['options'][key]['description'].endswith('default %d.' % value), (kind, key)


# --- secrets are no_log ------------------------------------------------------

SECRET = re.compile(r'(_url|_backend|password|basic_auth|environment|_env|_pip_extra_args)$')
# Names that match but hold no secret, and why.
NOT_SECRET = {
    'celery_flower_url_prefix': 'a URL path',
}


def secret_options():
    """(role:entry point, dotted name, option) of every option named like a secret."""
    return [('%s:%s' % where, name, option) for where, options in entry_points().items()
            for name, option in _options(options)
            if SECRET.search(name.rsplit('.', 1)[-1]) and name not in NOT_SECRET]


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
                     'celery_worker_groups.environment', '_celery_common_env'):
        assert expected in names, expected
