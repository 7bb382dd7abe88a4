"""Celery settings from the inventory (celery_worker_settings, the acks
variables, a group's `settings`): validation, merging, and how each platform
starts the workers that have some (through celeryops-celery.py)."""

import json

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_broker as cb
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_compose as cc
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s as ck
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw

APP = 'shop.celery:app'
IO = {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16}
CPU = {'name': 'cpu', 'queues': ['cpu'], 'concurrency': 2,
       'settings': {'worker_cancel_long_running_tasks_on_connection_loss': True}}
SHARED = {'task_acks_late': True, 'task_reject_on_worker_lost': True,
          'broker_transport_options': {'visibility_timeout': 600}}


def normalized(shared=None, raw=None):
    return cw.normalize_groups(raw or [IO, CPU], APP, settings=shared)


def test_valid_settings_have_no_errors():
    assert cw.group_errors([IO, CPU], settings=SHARED) == []
    assert cw.settings_errors({}) == []
    assert cw.settings_errors(None) == []


@pytest.mark.parametrize('shared, fragment', [
    ('acks', 'celery_worker_settings must be a dict of Celery settings'),
    ({'Task_Acks_Late': True}, "celery_worker_settings has an invalid Celery setting name 'Task_Acks_Late'"),
    ({'broker_url': 'redis://:pw@redis/0'}, 'celery_worker_settings must not set broker_url: connection strings'),
    ({'result_backend': 'redis://x'}, 'celery_worker_settings must not set result_backend'),
    ({'redis_backend_password': 'x'}, 'celery_worker_settings must not set redis_backend_password'),
    ({'worker_concurrency': 4}, "celery_worker_settings must not set worker_concurrency: use the worker group key "
                                "'concurrency'"),
    ({'task_time_limit': 4}, "use the worker group key 'time_limit'"),
    ({'task_acks_late': {1, 2}}, 'celery_worker_settings must hold plain values'),
    ({'task_acks_late': False, 'task_reject_on_worker_lost': True},
     'task_reject_on_worker_lost (celery_worker_reject_on_worker_lost) needs task_acks_late'),
])
def test_bad_shared_settings_name_the_variable(shared, fragment):
    errors = cw.group_errors([IO], settings=shared)
    assert any(fragment in error for error in errors), errors


@pytest.mark.parametrize('own, fragment', [
    ('fast', 'celery_worker_groups[0] (io).settings must be a dict'),
    ({'worker_pool': 'solo'}, "celery_worker_groups[0] (io).settings must not set worker_pool: use the worker "
                              "group key 'pool'"),
    ({'broker_write_url': 'x'}, 'celery_worker_groups[0] (io).settings must not set broker_write_url'),
])
def test_bad_group_settings_name_the_group(own, fragment):
    errors = cw.group_errors([dict(IO, settings=own)])
    assert any(fragment in error for error in errors), errors


def test_a_group_cannot_turn_acks_late_off_under_reject_on_worker_lost():
    errors = cw.group_errors([dict(IO, settings={'task_acks_late': False})], settings=SHARED)
    assert errors == ['celery_worker_settings with celery_worker_groups[0].settings: task_reject_on_worker_lost '
                      '(celery_worker_reject_on_worker_lost) needs task_acks_late (celery_worker_acks_late), '
                      'which is false: only a message acknowledged late can be requeued']


def test_group_settings_go_over_the_shared_ones_and_travel_as_json():
    io, cpu = normalized(dict(SHARED, worker_cancel_long_running_tasks_on_connection_loss=False))
    assert io['settings']['worker_cancel_long_running_tasks_on_connection_loss'] is False
    assert cpu['settings']['worker_cancel_long_running_tasks_on_connection_loss'] is True
    assert cpu['settings']['task_acks_late'] is True
    assert json.loads(cpu['environment'][cb.SETTINGS_ENV]) == cpu['settings']
    # The command line itself does not change: the launcher takes the same one.
    assert cpu['argv'][:4] == ['-A', APP, 'worker', '--loglevel=INFO']


def test_without_settings_nothing_is_added():
    io, cpu = normalized(raw=[IO, dict(CPU, settings={})])
    assert io['settings'] == {} and cpu['settings'] == {}
    assert cb.SETTINGS_ENV not in io['environment']


COMPOSE = {'app_name': 'shop', 'app_module': APP, 'image': 'shop:1', 'project_dir': '/opt/celery/shop',
           'python': '/venv/bin/python'}


def test_compose_starts_every_worker_through_the_launcher():
    services = cc.fragment(COMPOSE, 'worker', groups=normalized(raw=[IO, CPU]))['services']
    for service in (services['worker-io'], services['worker-cpu']):
        assert service['command'][:3] == ['/venv/bin/python', cc.LAUNCHER_PATH, '-A']
        assert {'source': 'celeryops_celery', 'target': cc.LAUNCHER_PATH} in service['configs']
    body = cc.fragment(COMPOSE, 'worker', groups=normalized(raw=[CPU]))
    assert body['configs']['celeryops_celery'] == {'file': '/opt/celery/shop/celeryops-celery.py'}
    # The settings are in the group's secrets file, not in the Compose file.
    assert 'worker_cancel_long_running' not in json.dumps(body)


K8S = {'app_name': 'shop', 'app_module': APP, 'image': 'shop:1', 'namespace': 'shop',
       'config_name': 'shop-config', 'probe_config_name': 'shop-celeryops', 'secret_name': 'shop-secrets',
       'python': '/venv/bin/python', 'probes': {}, 'autoscaling': 'none', 'network_policy': False}


def test_kubernetes_starts_every_worker_through_the_launcher():
    docs = ck.manifests(K8S, 'worker', groups=normalized(raw=[IO, CPU]))
    commands = dict((doc['metadata']['name'], doc['spec']['template']['spec']['containers'][0]['command'])
                    for doc in docs if doc['kind'] == 'Deployment')
    assert commands == {'shop-worker-io': ['/venv/bin/python', ck.LAUNCHER_PATH],
                        'shop-worker-cpu': ['/venv/bin/python', ck.LAUNCHER_PATH]}


def test_kubernetes_configmap_carries_the_launcher():
    docs = ck.manifests(K8S, 'config', config={}, probe_source='probe\n', launcher_source='launcher\n')
    scripts = [doc for doc in docs if doc['metadata']['name'] == 'shop-celeryops'][0]
    assert scripts['data'] == {'probe.py': 'probe\n', 'launcher.py': 'launcher\n'}
    # Both land under the same mount as the probe.
    assert ck.LAUNCHER_PATH.rsplit('/', 1)[0] == ck.PROBE_PATH.rsplit('/', 1)[0]
