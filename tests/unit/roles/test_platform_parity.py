"""One inventory, three platforms: every process gets the same environment,
Celery settings and command line on systemd, Compose and Kubernetes.

The roles resolve each process once (resolve_groups for the worker groups,
resolve_beat for beat; one role variable each for beat's and Flower's own
environment) and every platform renders from that. This test renders the
real files from one resolution: the systemd env files and the Compose
secrets files from the roles' own templates (jinja2 with the collection's
filters), the Compose services and the Kubernetes objects from the
renderers. Then, per process, it works out what the process would see, the
way each platform builds it:

- systemd: EnvironmentFile= in the unit's order (shared, then the group's),
  then the unit's Environment= lines;
- Compose: the service's ``environment``, then the exec shim's exports of the
  shared and the role's secrets files (later lines win);
- Kubernetes: ``envFrom`` in order (ConfigMap, Secret, the component's own
  Secret), then ``env`` (which wins over envFrom, as the kubelet does);

and compares: equal except for PLATFORM_ONLY, what differs by design.
"""

import copy
import json
import os
import re
import shlex

import jinja2
import pytest
import yaml

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_beat as cbeat
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_broker as cb
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_compose as cc
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s as ck
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw
from ansible_collections.celeryops.deploy.plugins.plugin_utils._systemd_env import quote_env_value
from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_unit import render_directives

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
ROLES = os.path.join(ROOT, 'roles')

# What differs by design, per platform: how each runs the process, not what
# the inventory says. Anything else that differs fails the test.
PLATFORM_ONLY = {
    # the unit's own paths under celery_run_dir
    'systemd': {'PYTHONUNBUFFERED', 'CELERYOPS_HEARTBEAT_FILE', 'CELERYOPS_WORKLOAD_DIR'},
    # the container's /tmp paths
    'compose': {'PYTHONUNBUFFERED', 'CELERYOPS_HEARTBEAT_FILE', 'CELERYOPS_WORKLOAD_DIR'},
    # the pod's /tmp path; KEDA's credential in the shared Secret;
    # celery_k8s_config (a Kubernetes-only variable)
    'kubernetes': {'PYTHONUNBUFFERED', 'CELERYOPS_HEARTBEAT_FILE', 'KEDA_BROKER_AUTH', 'CELERYOPS_K8S_ONLY'},
}

APP = 'shop.celery:app'
BROKER = 'redis://:broker-pw-7f3a@redis.internal:6379/0'
BACKEND = 'redis://:broker-pw-7f3a@redis.internal:6379/1'
INVENTORY = {
    'celery_broker_url': BROKER,
    'celery_result_backend': BACKEND,
    'celery_environment': {'SHARED_TOKEN': 'shared-token-1', 'QUOTED': "it's $HOME `x` \"q\" \\ 100%"},
    # celery_worker_settings with the acks variables over them (the role's _celery_worker_settings)
    'worker_settings': {'worker_send_task_events': True, 'task_acks_late': True, 'task_reject_on_worker_lost': True},
    'groups': [
        {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16, 'instances': 2,
         'environment': {'API_TOKEN': 'group-token-5f1d0c', 'SHARED_TOKEN': 'group-wins'}, 'time_limit': 60},
        {'name': 'cpu', 'queues': ['cpu', 'celery'], 'concurrency': 2, 'max_tasks_per_child': 100,
         'settings': {'worker_cancel_long_running_tasks_on_connection_loss': True}, 'memory_limit_mb': 400},
    ],
    'beat_environment': {'BEAT_ONLY': 'beat-1'},
    'flower_environment': {'FLOWER_ONLY': 'flower-1'},
    'flower_basic_auth': ['admin:flower-pw-2b'],
}
K8S_CONFIG = {'CELERYOPS_K8S_ONLY': 'k8s'}


def jinja():
    """jinja2 with the filters the templates use: the collection's own from the
    module_utils functions its filters wrap, Ansible's few as plain functions.
    (Importing Ansible's controller-side filter plugins here would change how
    AnsibleModule reports warnings for the module tests of this process.)"""
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(ROLES), keep_trailing_newline=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True)
    env.filters.update({
        'comment': lambda text: '#\n# %s\n#' % text,
        'bool': lambda value: value if isinstance(value, bool) else str(value).lower() in ('1', 'true', 'yes', 'on'),
        'combine': lambda *dicts: dict((key, value) for item in dicts for key, value in item.items()),
        'celeryops.deploy.systemd_env_quote': lambda value: quote_env_value(str(value)),
        'celeryops.deploy._systemd_directives': render_directives,
    })
    return env


def render(template, **variables):
    return jinja().get_template(template).render(ansible_managed='managed', celery_app_name='shop', **variables)


def parse_systemd_env(text):
    """KEY=value lines as systemd reads the roles' quoting (single quotes literal; double quotes escape)."""
    result = {}
    for line in text.splitlines():
        if not line or line.startswith('#'):
            continue
        key, value = line.split('=', 1)
        if value.startswith("'"):
            assert value.endswith("'")
            value = value[1:-1]
        elif value.startswith('"'):
            assert value.endswith('"')
            # Inside double quotes a backslash takes the next character literally.
            value = re.sub(r'\\(.)', r'\1', value[1:-1])
        result[key] = value
    return result


def parse_literal_env(text):
    """The exec shim's reading of a Compose secrets file: KEY=value, taken literally."""
    return dict(line.split('=', 1) for line in text.splitlines() if line and not line.startswith('#'))


@pytest.fixture(scope='module')
def resolution():
    broker = {'type': 'redis', 'consumer_timeout': 0, 'queue_type': 'classic'}
    result = cw.resolve_groups(copy.deepcopy(INVENTORY['groups']),
                               {'app_module': APP, 'settings': INVENTORY['worker_settings'], 'broker': broker,
                                'systemd': {'app_name': 'shop', 'base_dir': '/opt/celery/shop',
                                            'config_dir': '/etc/celery/shop', 'log_dir': None}}, [])
    assert result['errors'] == []
    beat = cbeat.resolve_beat({'scheduler': 'celery.beat:PersistentScheduler', 'max_interval': 0,
                               'allow_multiple': False, 'lock_timeout': 0, 'redis_url': '', 'broker_url': BROKER,
                               'queue_type': 'classic'})
    assert beat['errors'] == []
    return {
        'groups': result['groups'],
        'shared_settings_env': cb.settings_env(cb.broker_settings('classic')),
        # the roles' _celery_beat_environment and _celery_flower_environment
        'beat_env': dict(beat['environment'], **INVENTORY['beat_environment']),
        'flower_env': dict(INVENTORY['flower_environment'],
                           FLOWER_BASIC_AUTH=','.join(INVENTORY['flower_basic_auth'])),
    }


def shared(resolution, template, parse):
    return parse(render(template, celery_broker_url=BROKER, celery_result_backend=BACKEND,
                        _celery_common_settings_env=resolution['shared_settings_env'],
                        celery_environment=INVENTORY['celery_environment']))


def systemd_env(resolution, component, group=None):
    env = shared(resolution, 'celery_common/templates/celery.env.j2', parse_systemd_env)
    if component == 'worker':
        env.update(parse_systemd_env(render('celery_worker/templates/worker.env.j2', item=group)))
        unit = render('celery_worker/templates/worker.service.j2', **unit_variables(group))
    elif component == 'beat':
        env.update(parse_systemd_env(render('celery_beat/templates/beat.env.j2',
                                            _celery_beat_environment=resolution['beat_env'])))
        return env
    else:
        env.update(parse_systemd_env(render('celery_flower/templates/flower.env.j2',
                                            _celery_flower_environment=resolution['flower_env'])))
        return env
    for line in unit.splitlines():
        if line.startswith('Environment='):
            key, value = line[len('Environment='):].split('=', 1)
            env[key] = value
    return env, unit


def unit_variables(group):
    return {'item': group, 'celery_config_dir': '/etc/celery/shop', 'celery_run_dir': '/run/celery/shop',
            'celery_state_dir': '/var/lib/celery/shop', 'celery_user': 'celery', 'celery_group': 'celery',
            'celery_worker_measure_workload': True, 'celery_worker_restart_s': 5,
            'celery_worker_start_limit_burst': 10, 'celery_worker_start_limit_interval_s': 300,
            'celery_base_dir': '/opt/celery/shop', 'celery_log_to_file': False, 'celery_log_dir': '/var/log/celery',
            '_celery_common_install': {'sandbox': {}}}


COMPOSE_SETTINGS = {'app_name': 'shop', 'app_module': APP, 'image': 'shop:1', 'uid': 10001, 'gid': 10001,
                    'python': 'python3', 'measure_workload': True}


def compose_env(resolution, component, group=None):
    if component == 'worker':
        service = cc.worker_services([group], COMPOSE_SETTINGS)['worker-%s' % group['name']]
        role = render('celery_worker/templates/compose-worker.env.j2', item=group)
    else:
        own = resolution['beat_env'] if component == 'beat' else resolution['flower_env']
        service = cc.base_service(COMPOSE_SETTINGS, component, '%s_env' % component)
        role = render('celery_common/templates/compose-env.j2', _celery_common_env=own, _celery_common_env_title='x')
    # Compose reads '$$' as '$' in the service's environment.
    env = dict((key, str(value).replace('$$', '$')) for key, value in service['environment'].items())
    env.update(shared(resolution, 'celery_common/templates/compose-celery.env.j2', parse_literal_env))
    env.update(parse_literal_env(role))
    return env, service


K8S_SETTINGS = {
    'app_name': 'shop', 'app_module': APP, 'image': 'shop:1', 'namespace': 'shop', 'config_name': 'shop-config',
    'probe_config_name': 'shop-celeryops', 'secret_name': 'shop-secrets', 'python': 'python3',
    'checksums': {'config': 'c' * 64, 'secret': 's' * 64},
}


def kubelet_env(docs, container):
    """envFrom in order, then env: what the kubelet gives the container."""
    configmaps = dict((doc['metadata']['name'], doc['data']) for doc in docs if doc['kind'] == 'ConfigMap')
    secrets = dict((doc['metadata']['name'], doc['stringData']) for doc in docs if doc['kind'] == 'Secret')
    env = {}
    for source in container.get('envFrom', []):
        if 'configMapRef' in source:
            env.update(configmaps[source['configMapRef']['name']])
        else:
            env.update(secrets[source['secretRef']['name']])
    env.update((item['name'], item['value']) for item in container.get('env', []))
    return env


def k8s_docs(resolution, component):
    docs = ck.manifests(K8S_SETTINGS, 'config',
                        config=dict({'PYTHONUNBUFFERED': '1'}, **dict(K8S_CONFIG, **resolution['shared_settings_env'])),
                        probe_source='#', launcher_source='#')
    docs += ck.manifests(K8S_SETTINGS, 'secret', name='shop-secrets', data=dict(
        INVENTORY['celery_environment'], CELERY_BROKER_URL=BROKER, CELERY_RESULT_BACKEND=BACKEND,
        KEDA_BROKER_AUTH=cb.broker_auth(BROKER)))
    if component == 'worker':
        docs += ck.manifests(K8S_SETTINGS, 'worker_env', groups=resolution['groups'])
        docs += ck.manifests(K8S_SETTINGS, 'worker', groups=resolution['groups'])
    elif component == 'beat':
        docs += ck.manifests(K8S_SETTINGS, 'secret', name='shop-beat-env', data=resolution['beat_env'])
        docs += ck.manifests(K8S_SETTINGS, 'beat', argv=['beat'], env_secret='shop-beat-env')
    else:
        docs += ck.manifests(K8S_SETTINGS, 'secret', name='shop-flower-auth', data=resolution['flower_env'])
        docs += ck.manifests(K8S_SETTINGS, 'flower', argv=['flower'], auth_secret='shop-flower-auth')
    return docs


def k8s_container(docs, name):
    deployment = [doc for doc in docs if doc['kind'] == 'Deployment' and doc['metadata']['name'] == name][0]
    return deployment['spec']['template']['spec']['containers'][0]


def compare(envs):
    """Equal outside PLATFORM_ONLY; and what PLATFORM_ONLY lists does not hide an inventory value."""
    stripped = dict((platform, dict((key, value) for key, value in env.items() if key not in PLATFORM_ONLY[platform]))
                    for platform, env in envs.items())
    assert stripped['systemd'] == stripped['compose'] == stripped['kubernetes'], json.dumps(stripped, indent=1)
    return stripped['systemd']


@pytest.mark.parametrize('name', ['io', 'cpu'])
def test_a_worker_group_gets_the_same_environment_and_settings(resolution, name):
    group = [item for item in resolution['groups'] if item['name'] == name][0]
    systemd, unit = systemd_env(resolution, 'worker', group)
    compose, service = compose_env(resolution, 'worker', group)
    docs = k8s_docs(resolution, 'worker')
    container = k8s_container(docs, 'shop-worker-%s' % name)
    env = compare({'systemd': systemd, 'compose': compose, 'kubernetes': kubelet_env(docs, container)})
    # What the inventory says, seen in the effective environment of every platform:
    settings = json.loads(env[cb.SETTINGS_ENV])
    assert settings['task_acks_late'] is True and settings['task_reject_on_worker_lost'] is True
    assert settings['worker_send_task_events'] is True
    assert settings.get('worker_cancel_long_running_tasks_on_connection_loss') is (True if name == 'cpu' else None)
    assert env['CELERY_BROKER_URL'] == BROKER and env['CELERY_RESULT_BACKEND'] == BACKEND
    assert env['QUOTED'] == INVENTORY['celery_environment']['QUOTED']
    if name == 'io':
        # The group's own environment, over the shared one on every platform.
        assert env['API_TOKEN'] == 'group-token-5f1d0c' and env['SHARED_TOKEN'] == 'group-wins'
    # The same Celery command line (the node name is each platform's own).
    launcher = cw.launcher_command('python3', ck.LAUNCHER_PATH)
    k8s_argv = container['command'][len(launcher):] + container['args']
    compose_argv = service['command'][len(launcher):]
    exec_start = [line for line in unit.splitlines() if line.startswith('ExecStart=')][0]
    systemd_argv = [arg.replace('%%', '%') for arg in shlex.split(exec_start.split('celeryops-celery.py ', 1)[1])]

    def without_hostname(argv):
        return [arg for arg in argv if not arg.startswith('--hostname=')]

    assert without_hostname(k8s_argv) == without_hostname(compose_argv) == without_hostname(systemd_argv) \
        == group['argv']


@pytest.mark.parametrize('component', ['beat', 'flower'])
def test_beat_and_flower_get_the_same_environment(resolution, component):
    systemd = systemd_env(resolution, component)
    compose, _service = compose_env(resolution, component)
    docs = k8s_docs(resolution, component)
    kubernetes = kubelet_env(docs, k8s_container(docs, 'shop-%s' % component))
    env = compare({'systemd': systemd, 'compose': compose, 'kubernetes': kubernetes})
    if component == 'beat':
        assert env['BEAT_ONLY'] == 'beat-1'
    else:
        assert env['FLOWER_ONLY'] == 'flower-1' and env['FLOWER_BASIC_AUTH'] == 'admin:flower-pw-2b'


@pytest.mark.parametrize('variable, files', [
    # One definition of each role's own environment, used by all three platforms.
    ('_celery_beat_environment', ['celery_beat/templates/beat.env.j2', 'celery_beat/tasks/compose.yml',
                                  'celery_beat/tasks/kubernetes.yml']),
    ('_celery_flower_environment', ['celery_flower/templates/flower.env.j2', 'celery_flower/tasks/compose.yml',
                                    'celery_flower/tasks/kubernetes.yml']),
    ('_celery_worker_groups', ['celery_worker/tasks/systemd.yml', 'celery_worker/tasks/compose.yml',
                               'celery_worker/tasks/kubernetes.yml']),
])
def test_every_platform_renders_from_the_one_resolution(variable, files):
    for name in files:
        with open(os.path.join(ROLES, name)) as handle:
            assert variable in handle.read(), '%s does not use %s' % (name, variable)


def test_the_worker_settings_variable_feeds_the_resolution():
    with open(os.path.join(ROLES, 'celery_worker', 'vars', 'main.yml')) as handle:
        variables = yaml.safe_load(handle)
    assert variables['_celery_worker_resolve_options']['settings'] == '{{ _celery_worker_settings }}'
    for name in ('celery_worker_settings', 'celery_worker_acks_late', 'celery_worker_reject_on_worker_lost'):
        assert name in variables['_celery_worker_settings']
