"""Kubernetes objects: the systemd command lines, probes that survive a broker
outage, hardened pods, autoscalers, and no secret outside the Secret."""

import copy
import json
import os
import subprocess

import pytest
import yaml

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_broker as cb
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s as ck
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_cmd import beat_argv, flower_argv

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
PROBE_FILE = os.path.join(ROOT, 'roles', 'celery_common', 'files', 'celeryops-probe.py')
VALIDATE = os.path.join(ROOT, '.cache', 'k8s-tools', 'bin', 'kubernetes-validate')

APP = 'shop.celery:app'
PYTHON = '/venv/bin/python'
MANAGED_BY = 'app.kubernetes.io/managed-by'
# The namespace differs from the app name on purpose: a mix-up shows.
SETTINGS = {
    'app_name': 'shop', 'app_module': APP, 'image': 'registry.example.com/shop:1.4.2',
    'image_pull_policy': 'Always', 'image_pull_secrets': [], 'namespace': 'shop-prod',
    'config_name': 'shop-config', 'probe_config_name': 'shop-celeryops', 'secret_name': 'shop-secrets',
    'uid': 10001, 'gid': 10002, 'python': PYTHON, 'state_dir': '/var/lib/celery', 'probes': {},
    'autoscaling': 'none', 'hpa_cpu_percent': 70,
    'keda_broker': {'type': 'redis', 'host': 'redis.shop-prod.svc', 'port': 6380, 'db': 2, 'tls': False},
    'keda_secret_key': 'KEDA_BROKER_AUTH', 'service_account': '', 'node_selector': {}, 'tolerations': [],
    'network_policy': True, 'flower_ingress_from': [],
}
# A value that must stay in the group's secrets, never in a manifest.
GROUP_SECRET = 'group-token-5f1d0c'
RAW_GROUPS = [
    {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16, 'instances': 3,
     'environment': {'API_TOKEN': GROUP_SECRET}},
    {'name': 'cpu-heavy', 'queues': ['cpu', 'celery'], 'concurrency': 2, 'time_limit': 60,
     'cpu_limit': 1.5, 'memory_limit_mb': 400},
]
DEFAULT_TIMINGS = {
    'startup': {'periodSeconds': 10, 'timeoutSeconds': 20, 'failureThreshold': 30},
    'readiness': {'periodSeconds': 30, 'timeoutSeconds': 20, 'failureThreshold': 3},
    'liveness': {'periodSeconds': 60, 'timeoutSeconds': 30, 'failureThreshold': 3},
}


def groups(raw=None, extra_args=None):
    """Groups exactly as the role hands them to the filter (normalize_groups)."""
    return cw.normalize_groups(copy.deepcopy(raw or RAW_GROUPS), APP, 'info', default_stop_timeout=300,
                               stop_margin=30, extra_args=extra_args)


def group(**keys):
    return groups([dict({'name': 'io', 'queues': ['io']}, **keys)])


def settings(**changes):
    result = copy.deepcopy(SETTINGS)
    result.update(changes)
    return result


def worker_docs(raw=None, **changes):
    return ck.manifests(settings(**changes), 'worker', groups=groups(raw))


def beat_docs(stop_timeout=45, **changes):
    argv = beat_argv(APP, schedule_file='/var/lib/celery/celerybeat-schedule')
    return ck.manifests(settings(**changes), 'beat', argv=argv, stop_timeout=stop_timeout)


def flower_docs(url_prefix='', auth_secret='', **changes):
    argv = flower_argv(APP, address='0.0.0.0', port=ck.FLOWER_PORT, url_prefix=url_prefix)
    return ck.manifests(settings(**changes), 'flower', argv=argv, url_prefix=url_prefix, auth_secret=auth_secret)


def config_docs(namespace=False, **changes):
    return ck.manifests(settings(**changes), 'config', config={'PYTHONUNBUFFERED': '1'},
                        probe_source='print(1)\n', namespace=namespace)


def secret_docs(**changes):
    return ck.manifests(settings(**changes), 'secret', name='shop-secrets',
                        data={'CELERY_BROKER_URL': 'redis://:pw@redis:6379/0'})


COMPONENTS = {'worker': worker_docs, 'beat': beat_docs, 'flower': flower_docs}
ALL_COMPONENTS = dict(COMPONENTS, config=config_docs, secret=secret_docs)


def of_kind(docs, kind):
    return [doc for doc in docs if doc['kind'] == kind]


def one(docs, kind, name=None):
    found = [doc for doc in of_kind(docs, kind) if name is None or doc['metadata']['name'] == name]
    assert len(found) == 1, (kind, name, [(d['kind'], d['metadata']['name']) for d in docs])
    return found[0]


def container_of(deployment):
    containers = deployment['spec']['template']['spec']['containers']
    assert len(containers) == 1
    return containers[0]


def worker(name='io', docs=None):
    return one(docs if docs is not None else worker_docs(), 'Deployment', 'shop-worker-%s' % name)


def probe(*args, python=PYTHON):
    return {'exec': {'command': [python, '/celeryops/probe.py', '--app', APP] + list(args)}}


# --- helpers ---------------------------------------------------------------


@pytest.mark.parametrize('cpus, expected', [
    (2, '2'),
    (1, '1'),
    (3.0, '3'),
    (1.5, '1500m'),
    (0.25, '250m'),
    (0.1, '100m'),
    (0.001, '1m'),
    (0.0001, '1m'),  # never 0: at least one millicore
    ('0.5', '500m'),  # numbers may arrive as strings from templating
    ('2', '2'),
])
def test_k8s_cpu(cpus, expected):
    assert ck.k8s_cpu(cpus) == expected


@pytest.mark.parametrize('image, expected', [
    ('repo/app:1.4.2', '1.4.2'),
    ('registry.example.com/shop:1.4.2', '1.4.2'),
    ('app:latest', 'latest'),
    ('registry:5000/app', ''),  # the port is not a tag
    ('registry:5000/app:2.0', '2.0'),
    ('app', ''),
    ('app@sha256:' + 'a' * 64, ''),
    ('app:1.0@sha256:' + 'a' * 64, '1.0'),
    ('app:' + 'x' * 63, 'x' * 63),
    ('app:' + 'x' * 64, ''),  # longer than a label value may be
    ('app:' + 'x' * 128, ''),
])
def test_image_tag(image, expected):
    assert ck.image_tag(image) == expected


@pytest.mark.parametrize('image, version', [
    ('registry.example.com/shop:1.4.2', '1.4.2'),
    ('registry.example.com/shop@sha256:' + 'b' * 64, None),
    ('registry:5000/shop', None),
])
def test_version_label_only_with_a_usable_tag(image, version):
    deployment = worker(docs=worker_docs(image=image))
    for found in (deployment['metadata']['labels'], deployment['spec']['template']['metadata']['labels']):
        assert found.get('app.kubernetes.io/version') == version
    assert container_of(deployment)['image'] == image


def test_labels_and_selector():
    assert ck.selector(settings(), 'beat') == {
        'app.kubernetes.io/name': 'celery',
        'app.kubernetes.io/instance': 'shop',
        'app.kubernetes.io/component': 'beat',
    }
    assert ck.labels(settings(), 'beat') == dict(ck.selector(settings(), 'beat'), **{
        'app.kubernetes.io/part-of': 'shop',
        MANAGED_BY: 'celeryops.deploy',
        'app.kubernetes.io/version': '1.4.2',
    })


# --- worker groups ---------------------------------------------------------


def test_worker_objects_per_group():
    docs = worker_docs()
    assert [(doc['kind'], doc['metadata']['name']) for doc in docs] == [
        ('Deployment', 'shop-worker-io'), ('NetworkPolicy', 'shop-worker-io'),
        ('PodDisruptionBudget', 'shop-worker-io'),
        ('Deployment', 'shop-worker-cpu-heavy'), ('NetworkPolicy', 'shop-worker-cpu-heavy'),
        ('PodDisruptionBudget', 'shop-worker-cpu-heavy'),
    ]
    assert [doc['apiVersion'] for doc in docs[:3]] == ['apps/v1', 'networking.k8s.io/v1', 'policy/v1']


@pytest.mark.parametrize('name', ['io', 'cpu-heavy'])
def test_worker_selectors_agree(name):
    docs = worker_docs()
    deployment = one(docs, 'Deployment', 'shop-worker-%s' % name)
    selected = deployment['spec']['selector']['matchLabels']
    assert selected['app.kubernetes.io/component'] == 'worker-%s' % name
    # A Deployment whose selector does not match its template is rejected.
    template = deployment['spec']['template']['metadata']['labels']
    assert dict((key, template[key]) for key in selected if key in template) == selected
    pdb = one(docs, 'PodDisruptionBudget', 'shop-worker-%s' % name)
    assert pdb['spec'] == {'maxUnavailable': 1, 'selector': {'matchLabels': selected}}
    policy = one(docs, 'NetworkPolicy', 'shop-worker-%s' % name)
    assert policy['spec'] == {'podSelector': {'matchLabels': selected}, 'policyTypes': ['Ingress'], 'ingress': []}


def test_worker_selectors_do_not_overlap_between_groups():
    docs = worker_docs()
    io, cpu = worker('io', docs), worker('cpu-heavy', docs)
    io_selector = io['spec']['selector']['matchLabels']
    cpu_labels = cpu['spec']['template']['metadata']['labels']
    assert not all(cpu_labels.get(key) == value for key, value in io_selector.items())


@pytest.mark.parametrize('index, name', [(0, 'io'), (1, 'cpu-heavy')])
def test_worker_command_is_the_systemd_argv_plus_the_node_name(index, name):
    item = groups(extra_args=['--without-mingle'])[index]
    container = container_of(worker(name, ck.manifests(settings(), 'worker', groups=[item])))
    assert container['name'] == 'worker'
    # Every worker starts through the launcher (settings, heartbeat file).
    assert container['command'] == [PYTHON, ck.LAUNCHER_PATH]
    assert container['args'] == item['argv'] + ['--hostname=%s@%%h' % name]
    assert container['args'][:3] == ['-A', APP, 'worker']
    assert '--without-mingle' in container['args']
    # Readiness reads the heartbeat; liveness asks exactly the node the command names.
    assert container['readinessProbe']['exec']['command'][-2:] == ['ready', name]
    assert container['livenessProbe']['exec']['command'][-2:] == ['alive', name]


@pytest.mark.parametrize('name, grace', [('io', 300), ('cpu-heavy', 90)])
def test_worker_grace_period_is_the_group_stop_timeout(name, grace):
    item = [g for g in groups() if g['name'] == name][0]
    assert item['stop_timeout'] == grace
    assert worker(name)['spec']['template']['spec']['terminationGracePeriodSeconds'] == grace


@pytest.mark.parametrize('name', ['io', 'cpu-heavy'])
def test_worker_probes(name):
    """Startup/readiness read the heartbeat file (consuming, no app import);
    liveness only fails for a wedged worker (a broker outage does not restart it)."""
    container = container_of(worker(name))
    ready = {'exec': {'command': [PYTHON, ck.PROBE_PATH, 'ready', name]}}
    assert container['startupProbe'] == dict(ready, **DEFAULT_TIMINGS['startup'])
    assert container['readinessProbe'] == dict(ready, **DEFAULT_TIMINGS['readiness'])
    assert container['livenessProbe'] == dict(probe('alive', name), **DEFAULT_TIMINGS['liveness'])


def test_probe_checks_exist_in_the_probe_script():
    with open(PROBE_FILE) as handle:
        source = handle.read()
    assert "choices=('ready', 'ping', 'alive', 'broker', 'http')" in source


def test_worker_probe_python_defaults_to_python3():
    values = settings()
    del values['python']
    container = container_of(worker(docs=ck.manifests(values, 'worker', groups=groups())))
    assert container['livenessProbe']['exec']['command'][0] == 'python3'
    assert container['startupProbe']['exec']['command'][0] == 'python3'


@pytest.mark.parametrize('probes, expected', [
    pytest.param({}, DEFAULT_TIMINGS, id='empty-defaults'),
    pytest.param(None, DEFAULT_TIMINGS, id='none-defaults'),
    pytest.param({'liveness': {'periodSeconds': 120}},
                 dict(DEFAULT_TIMINGS, liveness={'periodSeconds': 120, 'timeoutSeconds': 30, 'failureThreshold': 3}),
                 id='one-key-rest-default'),
    pytest.param({'startup': {'failureThreshold': '60', 'periodSeconds': '5', 'timeoutSeconds': '15'},
                  'readiness': {'timeoutSeconds': 10}, 'liveness': None},
                 dict(DEFAULT_TIMINGS, startup={'periodSeconds': 5, 'timeoutSeconds': 15, 'failureThreshold': 60},
                      readiness={'periodSeconds': 30, 'timeoutSeconds': 10, 'failureThreshold': 3}),
                 id='strings-become-ints'),
    pytest.param({'liveness': {'initialDelaySeconds': 5}}, DEFAULT_TIMINGS, id='unknown-key-ignored'),
])
def test_worker_probe_timings(probes, expected):
    container = container_of(worker(docs=worker_docs(probes=probes)))
    for kind in ('startup', 'readiness', 'liveness'):
        found = dict(container['%sProbe' % kind])
        del found['exec']
        assert found == expected[kind], kind


def test_worker_pod_security():
    pod = worker()['spec']['template']['spec']
    assert pod['securityContext'] == {
        'runAsNonRoot': True, 'runAsUser': 10001, 'runAsGroup': 10002, 'fsGroup': 10002,
        'seccompProfile': {'type': 'RuntimeDefault'},
    }
    assert pod['automountServiceAccountToken'] is False
    assert pod['enableServiceLinks'] is False
    assert container_of(worker())['securityContext'] == {
        'allowPrivilegeEscalation': False, 'readOnlyRootFilesystem': True, 'runAsNonRoot': True,
        'privileged': False, 'capabilities': {'drop': ['ALL']},
    }


def test_pod_user_defaults_and_strings():
    values = settings(uid='2000', gid='3000')
    pod = worker(docs=ck.manifests(values, 'worker', groups=groups()))['spec']['template']['spec']
    assert (pod['securityContext']['runAsUser'], pod['securityContext']['runAsGroup']) == (2000, 3000)
    del values['uid'], values['gid']
    pod = worker(docs=ck.manifests(values, 'worker', groups=groups()))['spec']['template']['spec']
    assert pod['securityContext']['runAsUser'] == pod['securityContext']['fsGroup'] == 10001


def test_worker_volumes_and_env():
    deployment = worker()
    pod = deployment['spec']['template']['spec']
    assert pod['volumes'] == [
        {'name': 'tmp', 'emptyDir': {'medium': 'Memory', 'sizeLimit': '64Mi'}},
        {'name': 'celeryops', 'configMap': {'name': 'shop-celeryops', 'defaultMode': 0o444}},
    ]
    container = container_of(deployment)
    assert container['volumeMounts'] == [{'name': 'tmp', 'mountPath': '/tmp'},
                                         {'name': 'celeryops', 'mountPath': '/celeryops', 'readOnly': True}]
    # The shared objects, then the group's own Secret (its environment holds API_TOKEN).
    assert container['envFrom'] == [{'configMapRef': {'name': 'shop-config'}},
                                    {'secretRef': {'name': 'shop-secrets'}},
                                    {'secretRef': {'name': 'shop-worker-io-env'}}]
    # Only the heartbeat's path, on the in-memory /tmp (io has no Celery settings).
    assert container['env'] == [{'name': 'CELERYOPS_HEARTBEAT_FILE', 'value': '/tmp/celeryops-heartbeat.json'}]
    # cpu-heavy has no environment of its own: no Secret to read.
    assert [source for source in container_of(worker('cpu-heavy'))['envFrom'] if 'secretRef' in source] \
        == [{'secretRef': {'name': 'shop-secrets'}}]
    assert container['image'] == SETTINGS['image']
    assert container['imagePullPolicy'] == 'Always'


def test_image_pull_policy_defaults_to_if_not_present():
    values = settings()
    del values['image_pull_policy']
    assert container_of(worker(docs=ck.manifests(values, 'worker', groups=groups())))['imagePullPolicy'] \
        == 'IfNotPresent'


@pytest.mark.parametrize('component', sorted(COMPONENTS))
def test_optional_pod_fields_only_when_set(component):
    plain = of_kind(COMPONENTS[component](), 'Deployment')
    for deployment in plain:
        pod = deployment['spec']['template']['spec']
        for key in ('serviceAccountName', 'imagePullSecrets', 'nodeSelector', 'tolerations'):
            assert key not in pod
    toleration = {'key': 'celery', 'operator': 'Exists', 'effect': 'NoSchedule'}
    full = of_kind(COMPONENTS[component](service_account='shop-celery', image_pull_secrets=['regcred', 'other'],
                                         node_selector={'pool': 'workers'}, tolerations=[toleration]),
                   'Deployment')
    assert full
    for deployment in full:
        pod = deployment['spec']['template']['spec']
        assert pod['serviceAccountName'] == 'shop-celery'
        assert pod['automountServiceAccountToken'] is False  # even with a service account
        assert pod['imagePullSecrets'] == [{'name': 'regcred'}, {'name': 'other'}]
        assert pod['nodeSelector'] == {'pool': 'workers'}
        assert pod['tolerations'] == [toleration]


@pytest.mark.parametrize('keys, expected', [
    pytest.param({}, {'requests': {'cpu': '100m', 'memory': '128Mi'}},
                 id='nothing-set-request-100m-128Mi-no-guessed-limits'),
    pytest.param({'cpu_limit': 1.5, 'memory_limit_mb': 400},
                 {'requests': {'cpu': '100m', 'memory': '128Mi'}, 'limits': {'cpu': '1500m', 'memory': '400Mi'}},
                 id='limits-only-default-requests-below-them'),
    pytest.param({'cpu_limit': 0.05, 'memory_limit_mb': 64},
                 {'requests': {'cpu': '50m', 'memory': '64Mi'}, 'limits': {'cpu': '50m', 'memory': '64Mi'}},
                 id='small-limits-cap-the-default-requests'),
    pytest.param({'cpu_request': 0.5, 'memory_request_mb': 256},
                 {'requests': {'cpu': '500m', 'memory': '256Mi'}},
                 id='requests-only-no-limits'),
    pytest.param({'cpu_request': 0.25, 'memory_request_mb': 200, 'cpu_limit': 2, 'memory_limit_mb': 600},
                 {'requests': {'cpu': '250m', 'memory': '200Mi'}, 'limits': {'cpu': '2', 'memory': '600Mi'}},
                 id='all-four-as-given'),
    pytest.param({'cpu_request': 2}, {'requests': {'cpu': '2', 'memory': '128Mi'}},
                 id='cpu-request-only-memory-128Mi'),
    pytest.param({'memory_limit_mb': 1024}, {'requests': {'cpu': '100m', 'memory': '128Mi'},
                                             'limits': {'memory': '1024Mi'}},
                 id='memory-limit-only'),
    pytest.param({'cpu_limit': '0.75', 'memory_limit_mb': '300'},
                 {'requests': {'cpu': '100m', 'memory': '128Mi'}, 'limits': {'cpu': '750m', 'memory': '300Mi'}},
                 id='strings-from-templating'),
    pytest.param({'cpu_request': 0, 'memory_request_mb': 0},
                 {'requests': {'cpu': '100m', 'memory': '128Mi'}},
                 id='zero-means-unset'),
])
def test_worker_resources(keys, expected):
    container = container_of(worker(docs=ck.manifests(settings(), 'worker', groups=group(**keys))))
    assert container['resources'] == expected


def test_worker_resources_of_the_sample_groups():
    docs = worker_docs()
    assert container_of(worker('cpu-heavy', docs))['resources']['limits'] == {'cpu': '1500m', 'memory': '400Mi'}
    assert container_of(worker('io', docs))['resources']['requests'] == {'cpu': '100m', 'memory': '128Mi'}


def cpus(quantity):
    return float(quantity[:-1]) / 1000 if quantity.endswith('m') else float(quantity)


def test_planned_sizes_reach_the_deployments(role_path):
    """The role's path: resolve (plan request) -> plan -> resolve -> manifests; the
    plan's requests, limits, instances and queue threshold reach the objects."""
    by_name, resolved = role_path
    docs = ck.manifests(settings(autoscaling='keda'), 'worker', groups=resolved)
    for name in ('io', 'reports'):
        plan = by_name[name]
        resources = container_of(worker(name, docs))['resources']
        assert cpus(resources['requests']['cpu']) == pytest.approx(plan['cpu_request'], abs=0.0005)
        assert cpus(resources['limits']['cpu']) == pytest.approx(plan['cpu_limit'], abs=0.0005)
        assert cpus(resources['requests']['cpu']) <= cpus(resources['limits']['cpu'])
        assert resources['requests']['memory'] == '%dMi' % plan['memory_request_mb']
        scaled = one(docs, 'ScaledObject', 'shop-worker-%s' % name)['spec']
        assert scaled['minReplicaCount'] == plan['instances']
        assert scaled['triggers'][0]['metadata']['listLength'] == str(plan['autoscale_queue_length'])
    assert container_of(worker('io', docs))['resources']['limits']['memory'] == '%dMi' % by_name['io']['memory_limit_mb']
    assert container_of(worker('reports', docs))['resources']['limits']['memory'] == '2000Mi'  # the group's own


@pytest.mark.parametrize('default, own, autoscaler', [
    pytest.param('none', None, None, id='settings-none'),
    pytest.param(None, None, None, id='settings-missing-means-none'),
    pytest.param('', None, None, id='settings-empty-means-none'),
    pytest.param('hpa', None, 'HorizontalPodAutoscaler', id='settings-hpa'),
    pytest.param('keda', None, 'ScaledObject', id='settings-keda'),
    pytest.param('none', 'hpa', 'HorizontalPodAutoscaler', id='group-hpa-overrides-none'),
    pytest.param('none', 'keda', 'ScaledObject', id='group-keda-overrides-none'),
    pytest.param('hpa', 'none', None, id='group-none-overrides-hpa'),
    pytest.param('keda', 'hpa', 'HorizontalPodAutoscaler', id='group-hpa-overrides-keda'),
])
def test_replicas_only_without_an_autoscaler(default, own, autoscaler):
    keys = {'instances': 3}
    if own is not None:
        keys['autoscaling'] = own
    values = settings(autoscaling=default)
    if default is None:
        del values['autoscaling']
    docs = ck.manifests(values, 'worker', groups=group(**keys))
    spec = worker(docs=docs)['spec']
    assert spec['strategy'] == {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}}
    assert spec['revisionHistoryLimit'] == 5
    kinds = [doc['kind'] for doc in docs]
    if autoscaler is None:
        assert spec['replicas'] == 3
        assert kinds == ['Deployment', 'NetworkPolicy', 'PodDisruptionBudget']
    else:
        # Else every apply would reset what the autoscaler chose.
        assert 'replicas' not in spec
        assert autoscaler in kinds
        other = {'HorizontalPodAutoscaler': 'ScaledObject', 'ScaledObject': 'HorizontalPodAutoscaler'}[autoscaler]
        assert other not in kinds


@pytest.mark.parametrize('instances, replicas', [(None, 1), (1, 1), (4, 4)])
def test_replicas_are_the_instances(instances, replicas):
    raw = [{'name': 'io', 'queues': ['io'], 'instances': instances}]
    assert worker(docs=ck.manifests(settings(), 'worker', groups=groups(raw)))['spec']['replicas'] == replicas


@pytest.mark.parametrize('keys, minimum, maximum', [
    pytest.param({}, 1, 4, id='default-max-4x-instances'),
    pytest.param({'instances': 3}, 3, 12, id='instances-3-max-12'),
    pytest.param({'instances': 2, 'max_replicas': 7}, 2, 7, id='max-replicas-given'),
    pytest.param({'instances': 2, 'max_replicas': '5'}, 2, 5, id='max-replicas-string'),
])
@pytest.mark.parametrize('autoscaling', ['hpa', 'keda'])
def test_autoscaler_bounds(keys, minimum, maximum, autoscaling):
    docs = ck.manifests(settings(autoscaling=autoscaling), 'worker', groups=group(**keys))
    if autoscaling == 'hpa':
        spec = one(docs, 'HorizontalPodAutoscaler')['spec']
        assert (spec['minReplicas'], spec['maxReplicas']) == (minimum, maximum)
    else:
        spec = one(docs, 'ScaledObject')['spec']
        assert (spec['minReplicaCount'], spec['maxReplicaCount']) == (minimum, maximum)
    assert maximum > minimum


@pytest.mark.parametrize('percent, expected', [
    pytest.param(None, 70, id='default-70'),
    pytest.param(55, 55, id='given'),
    pytest.param('80', 80, id='string'),
])
def test_hpa(percent, expected):
    values = settings(autoscaling='hpa', hpa_cpu_percent=percent)
    if percent is None:
        del values['hpa_cpu_percent']
    docs = ck.manifests(values, 'worker', groups=group(instances=2))
    hpa = one(docs, 'HorizontalPodAutoscaler')
    assert hpa['apiVersion'] == 'autoscaling/v2'
    assert hpa['metadata']['name'] == 'shop-worker-io'
    assert hpa['spec'] == {
        'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': 'shop-worker-io'},
        'minReplicas': 2, 'maxReplicas': 8,
        'metrics': [{'type': 'Resource', 'resource': {
            'name': 'cpu', 'target': {'type': 'Utilization', 'averageUtilization': expected}}}],
    }
    # CPU utilization needs a CPU request.
    assert container_of(worker(docs=docs))['resources']['requests']['cpu']


def keda_docs(broker, secret_key='KEDA_BROKER_AUTH', **keys):
    values = settings(autoscaling='keda', keda_broker=broker, keda_secret_key=secret_key)
    if secret_key is None:
        del values['keda_secret_key']
    raw = [dict({'name': 'cpu-heavy', 'queues': ['cpu', 'celery'], 'instances': 2}, **keys)]
    return ck.manifests(values, 'worker', groups=groups(raw))


REDIS = {'type': 'redis', 'host': 'redis.shop-prod.svc', 'port': 6380, 'db': 2, 'tls': False}
RABBIT = {'type': 'rabbitmq', 'host': 'rabbit.shop-prod.svc', 'port': 5672, 'tls': False}


def test_keda_redis():
    docs = keda_docs(REDIS, autoscale_queue_length=25)
    assert [doc['kind'] for doc in docs] == ['Deployment', 'NetworkPolicy', 'PodDisruptionBudget',
                                             'TriggerAuthentication', 'ScaledObject']
    auth = one(docs, 'TriggerAuthentication')
    assert auth['apiVersion'] == 'keda.sh/v1alpha1'
    assert auth['metadata']['name'] == 'shop-worker-cpu-heavy-keda'
    assert auth['spec'] == {'secretTargetRef': [{'parameter': 'password', 'name': 'shop-secrets',
                                                 'key': 'KEDA_BROKER_AUTH'}]}
    scaled = one(docs, 'ScaledObject')
    assert scaled['apiVersion'] == 'keda.sh/v1alpha1'
    assert scaled['metadata']['name'] == 'shop-worker-cpu-heavy'
    spec = scaled['spec']
    assert spec['scaleTargetRef'] == {'name': 'shop-worker-cpu-heavy'}
    assert (spec['minReplicaCount'], spec['maxReplicaCount']) == (2, 8)
    assert spec['pollingInterval'] == 15 and spec['cooldownPeriod'] == 300
    assert spec['triggers'] == [
        {'type': 'redis', 'authenticationRef': {'name': 'shop-worker-cpu-heavy-keda'},
         'metadata': {'address': 'redis.shop-prod.svc:6380', 'listName': queue, 'listLength': '25',
                      'databaseIndex': '2'}}
        for queue in ('cpu', 'celery')
    ]


@pytest.mark.parametrize('broker, address, db', [
    pytest.param({'type': 'redis', 'host': 'r', 'port': '6390', 'db': '5'}, 'r:6390', '5', id='strings'),
    pytest.param({'type': 'redis', 'host': 'r'}, 'r:6379', '0', id='port-6379-db-0-by-default'),
    pytest.param({}, 'redis:6379', '0', id='no-broker-redis-host-redis'),
    pytest.param(None, 'redis:6379', '0', id='none-broker'),
])
def test_keda_redis_address_defaults(broker, address, db):
    trigger = one(keda_docs(broker), 'ScaledObject')['spec']['triggers'][0]
    assert trigger['type'] == 'redis'
    assert trigger['metadata']['address'] == address
    assert trigger['metadata']['databaseIndex'] == db


@pytest.mark.parametrize('tls', [True, False])
def test_keda_redis_tls(tls):
    for trigger in one(keda_docs(dict(REDIS, tls=tls)), 'ScaledObject')['spec']['triggers']:
        if tls:
            assert trigger['metadata']['enableTLS'] == 'true'
        else:
            assert 'enableTLS' not in trigger['metadata']


@pytest.mark.parametrize('length, expected', [
    pytest.param(None, '1', id='default-1'),
    pytest.param(0, '1', id='zero-means-default'),
    pytest.param(40, '40', id='given'),
    pytest.param('12', '12', id='string'),
])
@pytest.mark.parametrize('broker', [REDIS, RABBIT], ids=['redis', 'rabbitmq'])
def test_keda_threshold(length, expected, broker):
    keys = {} if length is None else {'autoscale_queue_length': length}
    for trigger in one(keda_docs(broker, **keys), 'ScaledObject')['spec']['triggers']:
        value = trigger['metadata']['listLength' if broker is REDIS else 'value']
        assert value == expected


def test_keda_rabbitmq():
    docs = keda_docs(RABBIT, autoscale_queue_length=30)
    auth = one(docs, 'TriggerAuthentication')
    assert auth['spec'] == {'secretTargetRef': [{'parameter': 'host', 'name': 'shop-secrets',
                                                 'key': 'KEDA_BROKER_AUTH'}]}
    assert one(docs, 'ScaledObject')['spec']['triggers'] == [
        {'type': 'rabbitmq', 'authenticationRef': {'name': 'shop-worker-cpu-heavy-keda'},
         'metadata': {'protocol': 'amqp', 'queueName': queue, 'mode': 'QueueLength', 'value': '30'}}
        for queue in ('cpu', 'celery')
    ]


@pytest.mark.parametrize('secret_key, expected', [
    pytest.param(None, 'KEDA_BROKER_AUTH', id='default-KEDA_BROKER_AUTH'),
    pytest.param('REDIS_PASSWORD', 'REDIS_PASSWORD', id='given'),
])
def test_keda_secret_key(secret_key, expected):
    auth = one(keda_docs(REDIS, secret_key=secret_key), 'TriggerAuthentication')
    assert auth['spec']['secretTargetRef'][0]['key'] == expected


@pytest.mark.parametrize('url', [
    'redis://:pw@redis.example:6390/3',
    'rediss://user:pw@redis.example/1',
    'amqp://shop:pw@rabbit.example:5671//',
    'pyamqp://shop:pw@rabbit.example//',
])
def test_keda_metadata_values_are_strings(url):
    """KEDA rejects trigger metadata that is not a string."""
    raw = [{'name': 'io', 'queues': ['io', 'io-low'], 'autoscale_queue_length': 7}]
    docs = ck.manifests(settings(autoscaling='keda', keda_broker=cb.broker_endpoint(url)), 'worker',
                        groups=groups(raw))
    triggers = one(docs, 'ScaledObject')['spec']['triggers']
    assert len(triggers) == 2
    for trigger in triggers:
        assert trigger['metadata']
        for key, value in trigger['metadata'].items():
            assert isinstance(key, str) and isinstance(value, str), (key, value)
    assert 'pw' not in json.dumps(docs)


def test_keda_from_a_broker_url():
    """The role's path: celery_broker_url | celery_broker_endpoint -> keda_broker."""
    broker = cb.broker_endpoint('rediss://:s3cret@redis.example:6390/3')
    triggers = one(keda_docs(broker), 'ScaledObject')['spec']['triggers']
    assert triggers[0]['metadata'] == {'address': 'redis.example:6390', 'listName': 'cpu', 'listLength': '1',
                                       'databaseIndex': '3', 'enableTLS': 'true'}


# --- beat ------------------------------------------------------------------


def test_beat():
    docs = beat_docs()
    kinds = [(doc['kind'], doc['metadata']['name']) for doc in docs]
    assert kinds == [('Deployment', 'shop-beat'), ('NetworkPolicy', 'shop-beat')]
    deployment = docs[0]
    spec = deployment['spec']
    assert spec['replicas'] == 1
    assert spec['strategy'] == {'type': 'Recreate'}  # never two beats during a rollout
    assert spec['selector']['matchLabels'] == ck.selector(settings(), 'beat')
    container = container_of(deployment)
    assert container['name'] == 'beat'
    assert container['command'] == [PYTHON, ck.LAUNCHER_PATH]
    assert container['args'] == ['-A', APP, 'beat', '--loglevel=INFO', '--schedule=/var/lib/celery/celerybeat-schedule']
    assert spec['template']['spec']['terminationGracePeriodSeconds'] == 45
    assert docs[1]['spec'] == {'podSelector': {'matchLabels': ck.selector(settings(), 'beat')},
                               'policyTypes': ['Ingress'], 'ingress': []}


def test_beat_with_a_locking_scheduler_runs_replicas_rolled_ready_first():
    """RedBeat: two replicas (one holds the lock, one waits); a rollout adds the
    new pod before it removes an old one, and beat's own settings come from
    its Secret, after the shared config."""
    argv = beat_argv(APP, scheduler='redbeat.RedBeatScheduler', max_interval=10)
    deployment = ck.manifests(settings(), 'beat', argv=argv, replicas=2, env_secret='shop-beat-env')[0]
    assert deployment['spec']['replicas'] == 2
    assert deployment['spec']['strategy'] == {'type': 'RollingUpdate',
                                              'rollingUpdate': {'maxUnavailable': 0, 'maxSurge': 1}}
    sources = container_of(deployment)['envFrom']
    assert sources[-1] == {'secretRef': {'name': 'shop-beat-env'}}
    assert [source for source in sources if 'configMapRef' in source] == [sources[0]]


def test_beat_probes():
    """Ready while the heartbeat says beat schedules on time; no liveness probe."""
    container = container_of(beat_docs()[0])
    assert 'livenessProbe' not in container
    ready = {'exec': {'command': [PYTHON, ck.PROBE_PATH, 'ready']}}
    assert container['startupProbe'] == dict(ready, **DEFAULT_TIMINGS['startup'])
    assert container['readinessProbe'] == dict(ready, **DEFAULT_TIMINGS['readiness'])
    timed = container_of(beat_docs(probes={'readiness': {'periodSeconds': 90}})[0])
    assert timed['readinessProbe']['periodSeconds'] == 90


def test_beat_checkov_skip_names_the_liveness_check():
    annotations = beat_docs()[0]['metadata']['annotations']
    assert list(annotations) == ['checkov.io/skip1']
    check, _sep, reason = annotations['checkov.io/skip1'].partition('=')
    assert check == 'CKV_K8S_8'  # "Liveness Probe Should be Configured"
    assert reason


@pytest.mark.parametrize('state_dir, mount', [
    pytest.param('/srv/state', '/srv/state', id='given'),
    pytest.param(None, '/var/lib/celery', id='default-var-lib-celery'),
])
def test_beat_state_volume(state_dir, mount):
    values = settings(state_dir=state_dir)
    if state_dir is None:
        del values['state_dir']
    deployment = ck.manifests(values, 'beat', argv=['-A', APP, 'beat'])[0]
    pod = deployment['spec']['template']['spec']
    assert {'name': 'state', 'emptyDir': {}} in pod['volumes']
    container = container_of(deployment)
    assert {'name': 'state', 'mountPath': mount} in container['volumeMounts']
    assert container['volumeMounts'][:2] == [{'name': 'tmp', 'mountPath': '/tmp'},
                                             {'name': 'celeryops', 'mountPath': '/celeryops', 'readOnly': True}]
    assert pod['terminationGracePeriodSeconds'] == 60  # default stop_timeout


def test_beat_statefulset_keeps_the_schedule_on_its_own_claim():
    """A StatefulSet of one: the schedule file on a claim made from its
    template (kept when beat goes), a governing headless Service, no
    emptyDir for the state, and no Deployment."""
    docs = ck.manifests(settings(), 'beat', argv=['-A', APP, 'beat'],
                        state={'kind': 'statefulset', 'size': '128Mi', 'storage_class': 'fast'})
    assert [(doc['kind'], doc['metadata']['name']) for doc in docs] == [
        ('Service', 'shop-beat'), ('StatefulSet', 'shop-beat'), ('NetworkPolicy', 'shop-beat')]
    service, sts = docs[0], docs[1]
    assert service['spec'] == {'clusterIP': 'None', 'selector': ck.selector(settings(), 'beat')}
    spec = sts['spec']
    assert spec['replicas'] == 1 and spec['serviceName'] == 'shop-beat'
    assert spec['podManagementPolicy'] == 'OrderedReady' and spec['updateStrategy'] == {'type': 'RollingUpdate'}
    assert spec['persistentVolumeClaimRetentionPolicy'] == {'whenDeleted': 'Retain', 'whenScaled': 'Retain'}
    (claim,) = spec['volumeClaimTemplates']
    assert claim['metadata']['name'] == 'state'
    assert claim['spec'] == {'accessModes': ['ReadWriteOnce'], 'storageClassName': 'fast',
                             'resources': {'requests': {'storage': '128Mi'}}}
    pod = spec['template']['spec']
    assert [volume['name'] for volume in pod['volumes']] == ['tmp', 'celeryops']
    assert {'name': 'state', 'mountPath': '/var/lib/celery'} in container_of(sts)['volumeMounts']
    assert pod['securityContext']['fsGroup'] == settings()['gid']  # the claim is writable by the pod's group
    assert list(sts['metadata']['annotations']) == ['checkov.io/skip1']


def test_beat_statefulset_claim_uses_the_default_storage_class():
    sts = ck.manifests(settings(), 'beat', argv=['-A', APP, 'beat'], state={'kind': 'statefulset'})[1]
    assert sts['spec']['volumeClaimTemplates'][0]['spec'] == {
        'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '64Mi'}}}


def test_beat_on_a_claim_you_name():
    deployment = ck.manifests(settings(), 'beat', argv=['-A', APP, 'beat'],
                              state={'kind': 'claim', 'claim': 'shop-beat-state'})[0]
    assert deployment['kind'] == 'Deployment' and deployment['spec']['strategy'] == {'type': 'Recreate'}
    volumes = deployment['spec']['template']['spec']['volumes']
    assert {'name': 'state', 'persistentVolumeClaim': {'claimName': 'shop-beat-state'}} in volumes
    assert not [volume for volume in volumes if volume['name'] == 'state' and 'emptyDir' in volume]


CRONJOBS = [
    {'name': 'tick', 'task': 'shop.tasks.tick', 'schedule': '*/5 * * * *', 'queue': 'io', 'expires_s': 240},
    {'name': 'report', 'task': 'shop.tasks.report', 'schedule': '@daily', 'args': [1, 'x'],
     'kwargs': {'full': True}, 'time_zone': 'Europe/Paris', 'starting_deadline_s': 600, 'active_deadline_s': 60},
]


def test_cronjobs_send_the_tasks():
    docs = ck.manifests(settings(), 'cron', cronjobs=CRONJOBS, app_module=APP)
    assert [(doc['kind'], doc['metadata']['name']) for doc in docs] == [
        ('CronJob', 'shop-cron-tick'), ('CronJob', 'shop-cron-report'), ('NetworkPolicy', 'shop-cron')]
    tick, report = docs[0]['spec'], docs[1]['spec']
    assert tick['schedule'] == '*/5 * * * *' and tick['concurrencyPolicy'] == 'Forbid'
    assert tick['startingDeadlineSeconds'] == 300 and report['startingDeadlineSeconds'] == 600
    assert tick['successfulJobsHistoryLimit'] == 3 and tick['failedJobsHistoryLimit'] == 3
    assert 'timeZone' not in tick and report['timeZone'] == 'Europe/Paris'
    job = tick['jobTemplate']['spec']
    assert job['backoffLimit'] == 2 and job['activeDeadlineSeconds'] == 120
    assert report['jobTemplate']['spec']['activeDeadlineSeconds'] == 60
    pod = job['template']['spec']
    assert pod['restartPolicy'] == 'Never' and pod['automountServiceAccountToken'] is False
    container = pod['containers'][0]
    assert container['command'] == [PYTHON, ck.LAUNCHER_PATH]  # the inventory's settings apply
    assert container['args'] == ['-A', APP, 'call', 'shop.tasks.tick', '--args', '[]', '--kwargs', '{}',
                                 '--queue', 'io', '--expires', '240']
    assert report['jobTemplate']['spec']['template']['spec']['containers'][0]['args'][3:] == [
        'shop.tasks.report', '--args', '[1,"x"]', '--kwargs', '{"full":true}']
    assert container['securityContext']['readOnlyRootFilesystem'] is True
    assert container['envFrom'][0] == {'configMapRef': {'name': 'shop-config'}}
    assert 'livenessProbe' not in container and 'readinessProbe' not in container
    assert sorted(docs[0]['metadata']['annotations']) == ['checkov.io/skip1', 'checkov.io/skip2']
    assert docs[2]['spec']['podSelector']['matchLabels'] == ck.selector(settings(), 'cron')
    assert job['template']['metadata']['labels']['app.kubernetes.io/component'] == 'cron'


def test_no_cronjobs_no_objects():
    assert ck.manifests(settings(), 'cron', cronjobs=[], app_module=APP) == []


@pytest.mark.parametrize('own, expected', [
    pytest.param(None, {'requests': {'cpu': '50m', 'memory': '128Mi'}, 'limits': {'cpu': '500m', 'memory': '256Mi'}},
                 id='default-50m-128Mi-500m-256Mi'),
    pytest.param({'cpu_limit': 2, 'memory_limit_mb': 1024},
                 {'requests': {'cpu': '100m', 'memory': '128Mi'}, 'limits': {'cpu': '2', 'memory': '1024Mi'}},
                 id='beat-resources-replace-the-defaults'),
])
def test_beat_resources(own, expected):
    docs = beat_docs(beat_resources=own) if own else beat_docs()
    assert container_of(docs[0])['resources'] == expected


# --- flower ----------------------------------------------------------------


def test_flower():
    docs = flower_docs()
    assert [(doc['kind'], doc['metadata']['name']) for doc in docs] == [
        ('Deployment', 'shop-flower'), ('Service', 'shop-flower'), ('NetworkPolicy', 'shop-flower')]
    deployment, service, policy = docs
    assert deployment['spec']['replicas'] == 1
    assert deployment['spec']['strategy'] == {'type': 'Recreate'}
    container = container_of(deployment)
    assert container['name'] == 'flower'
    # Through the launcher, which guards /metrics with Flower's login.
    assert container['command'] == cw.launcher_command(settings().get('python', 'python3'), ck.LAUNCHER_PATH)
    assert container['args'][:3] == ['-A', APP, 'flower']
    assert '--port=5555' in container['args'] and '--address=0.0.0.0' in container['args']
    assert container['ports'] == [{'name': 'http', 'containerPort': 5555, 'protocol': 'TCP'}]
    assert deployment['spec']['template']['spec']['terminationGracePeriodSeconds'] == 30
    assert service['apiVersion'] == 'v1'
    assert service['spec'] == {
        'type': 'ClusterIP', 'selector': ck.selector(settings(), 'flower'),
        'ports': [{'name': 'http', 'port': 5555, 'targetPort': 'http', 'protocol': 'TCP'}],
    }
    # The Service's targetPort names the container's port.
    assert service['spec']['ports'][0]['targetPort'] in [port['name'] for port in container['ports']]
    template = deployment['spec']['template']['metadata']['labels']
    assert all(template[key] == value for key, value in service['spec']['selector'].items())
    assert policy['spec'] == {
        'podSelector': {'matchLabels': ck.selector(settings(), 'flower')}, 'policyTypes': ['Ingress'],
        'ingress': [{'ports': [{'protocol': 'TCP', 'port': 5555}]}],
    }


def test_flower_ingress_from_the_given_peers_only():
    peers = [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ingress-nginx'}}},
             {'podSelector': {'matchLabels': {'app': 'oauth2-proxy'}}}]
    policy = one(flower_docs(flower_ingress_from=peers), 'NetworkPolicy')
    assert policy['spec']['ingress'] == [{'ports': [{'protocol': 'TCP', 'port': 5555}], 'from': peers}]
    values = settings()
    del values['flower_ingress_from']
    policy = one(ck.manifests(values, 'flower', argv=['-A', APP, 'flower']), 'NetworkPolicy')
    assert 'from' not in policy['spec']['ingress'][0]


@pytest.mark.parametrize('url_prefix, path', [
    ('', '/healthcheck'),
    ('/', '/healthcheck'),
    ('flower', '/flower/healthcheck'),
    ('/flower/', '/flower/healthcheck'),
    ('ops/flower', '/ops/flower/healthcheck'),
])
def test_flower_probes_honour_the_url_prefix(url_prefix, path):
    container = container_of(one(flower_docs(url_prefix=url_prefix), 'Deployment'))
    http = {'httpGet': {'path': path, 'port': 'http'}}
    assert container['startupProbe'] == dict(http, periodSeconds=5, timeoutSeconds=5, failureThreshold=24)
    assert container['readinessProbe'] == dict(http, periodSeconds=10, timeoutSeconds=5, failureThreshold=3)
    assert container['livenessProbe'] == dict(http, periodSeconds=30, timeoutSeconds=10, failureThreshold=3)


@pytest.mark.parametrize('auth_secret, env_from', [
    pytest.param('', [{'configMapRef': {'name': 'shop-config'}}, {'secretRef': {'name': 'shop-secrets'}}],
                 id='no-auth-secret'),
    pytest.param('shop-flower-auth', [{'configMapRef': {'name': 'shop-config'}},
                                      {'secretRef': {'name': 'shop-secrets'}},
                                      {'secretRef': {'name': 'shop-flower-auth'}}], id='auth-secret-last'),
])
def test_flower_env_from(auth_secret, env_from):
    container = container_of(one(flower_docs(auth_secret=auth_secret), 'Deployment'))
    assert container['envFrom'] == env_from


def test_flower_state_and_resources():
    deployment = one(flower_docs(state_dir='/srv/flower'), 'Deployment')
    assert {'name': 'state', 'emptyDir': {}} in deployment['spec']['template']['spec']['volumes']
    container = container_of(deployment)
    assert {'name': 'state', 'mountPath': '/srv/flower'} in container['volumeMounts']
    assert container['resources'] == {'requests': {'cpu': '50m', 'memory': '128Mi'},
                                      'limits': {'cpu': '1', 'memory': '512Mi'}}
    own = container_of(one(flower_docs(flower_resources={'memory_limit_mb': 300}), 'Deployment'))
    assert own['resources'] == {'requests': {'cpu': '100m', 'memory': '128Mi'},
                                'limits': {'memory': '300Mi'}}


# --- what every component shares -------------------------------------------


@pytest.mark.parametrize('component', sorted(COMPONENTS))
@pytest.mark.parametrize('enabled, missing', [
    pytest.param(True, False, id='on'),
    pytest.param(False, False, id='off'),
    pytest.param(None, True, id='missing-means-on'),
])
def test_network_policy_switch(component, enabled, missing):
    if missing:
        values = settings()
        del values['network_policy']
        docs = ck.manifests(values, component, groups=groups(), argv=['-A', APP, component])
    else:
        docs = COMPONENTS[component](network_policy=enabled)
    policies = of_kind(docs, 'NetworkPolicy')
    deployments = of_kind(docs, 'Deployment')
    if enabled is False:
        assert policies == []
        assert deployments  # the rest stays
    else:
        assert len(policies) == len(deployments)
        assert sorted(p['metadata']['name'] for p in policies) == sorted(d['metadata']['name'] for d in deployments)


@pytest.mark.parametrize('component', sorted(COMPONENTS))
def test_hardened_pods_everywhere(component):
    for deployment in of_kind(COMPONENTS[component](), 'Deployment'):
        pod = deployment['spec']['template']['spec']
        assert pod['automountServiceAccountToken'] is False
        assert pod['securityContext']['runAsNonRoot'] is True
        assert pod['securityContext']['seccompProfile'] == {'type': 'RuntimeDefault'}
        container = container_of(deployment)
        assert container['securityContext']['readOnlyRootFilesystem'] is True
        assert container['securityContext']['allowPrivilegeEscalation'] is False
        assert container['securityContext']['capabilities'] == {'drop': ['ALL']}
        # Every component starts through the launcher (settings, heartbeat
        # file, Flower's /metrics behind its login).
        assert container['command'] == [PYTHON, ck.LAUNCHER_PATH]
        resources = container['resources']
        assert set(resources['requests']) == {'cpu', 'memory'}
        # Every mount names a declared volume; the probe script is read-only.
        declared = [volume['name'] for volume in pod['volumes']]
        assert len(declared) == len(set(declared))
        for mount in container['volumeMounts']:
            assert mount['name'] in declared
        assert {'name': 'celeryops', 'mountPath': '/celeryops', 'readOnly': True} in container['volumeMounts']
        assert {'name': 'tmp', 'mountPath': '/tmp'} in container['volumeMounts']


@pytest.mark.parametrize('component', sorted(COMPONENTS))
def test_references_match_the_config_objects(component):
    """The ConfigMaps and the Secret the pods name are the ones the config role renders."""
    config = config_docs()
    config_names = [doc['metadata']['name'] for doc in of_kind(config, 'ConfigMap')]
    secret_name = one(secret_docs(), 'Secret')['metadata']['name']
    for deployment in of_kind(COMPONENTS[component](), 'Deployment'):
        pod = deployment['spec']['template']['spec']
        probe_volume = [volume for volume in pod['volumes'] if volume['name'] == 'celeryops'][0]
        assert probe_volume['configMap']['name'] in config_names
        env_from = container_of(deployment)['envFrom']
        assert env_from[0]['configMapRef']['name'] in config_names
        assert env_from[1]['secretRef']['name'] == secret_name
    probe_map = one(config, 'ConfigMap', SETTINGS['probe_config_name'])
    assert ck.PROBE_PATH == '/celeryops/' + list(probe_map['data'])[0]


def every_object():
    yield worker_docs()
    yield worker_docs(autoscaling='hpa')
    yield worker_docs(autoscaling='keda')
    yield worker_docs(autoscaling='keda', keda_broker=RABBIT)
    yield beat_docs()
    yield flower_docs(auth_secret='shop-flower-auth')
    yield config_docs(namespace=True)
    yield secret_docs()
    yield ck.manifests(settings(), 'secret', name='shop-flower-auth', owner='flower', data={'FLOWER_BASIC_AUTH': 'a:b'})


def test_every_object_is_namespaced_and_labelled():
    seen = set()
    for docs in every_object():
        for doc in docs:
            seen.add(doc['kind'])
            meta = doc['metadata']
            if doc['kind'] == 'Namespace':
                assert 'namespace' not in meta
                assert meta['name'] == 'shop-prod'
            else:
                assert meta['namespace'] == 'shop-prod', (doc['kind'], meta['name'])
            assert meta['labels'][MANAGED_BY] == 'celeryops.deploy'
            assert meta['labels']['app.kubernetes.io/part-of'] == 'shop'
            assert meta['labels']['app.kubernetes.io/instance'] == 'shop'
            assert meta['name'].startswith('shop')
    assert seen == {'Namespace', 'ConfigMap', 'Secret', 'Deployment', 'Service', 'NetworkPolicy',
                    'PodDisruptionBudget', 'HorizontalPodAutoscaler', 'ScaledObject', 'TriggerAuthentication'}


def test_namespace_follows_the_settings():
    for docs in (worker_docs(namespace='other'), beat_docs(namespace='other'), flower_docs(namespace='other')):
        assert set(doc['metadata']['namespace'] for doc in docs) == {'other'}


@pytest.mark.parametrize('component', sorted(COMPONENTS))
def test_no_secret_in_the_workloads(component):
    """The functions take no secret: they copy none from the groups' environment
    or from settings they do not know, and pods get theirs only via envFrom."""
    odd = {'broker_url': 'redis://:settings-password-9a8b@x/0',
           'celery_broker_url': 'amqp://u:settings-password-9a8b@rabbit//',
           'result_backend': 'redis://:settings-password-9a8b@x/1',
           'environment': {'API_TOKEN': GROUP_SECRET}, 'flower_basic_auth': ['admin:settings-password-9a8b']}
    for autoscaling in ('none', 'hpa', 'keda'):
        docs = ck.manifests(settings(autoscaling=autoscaling, **odd), component, groups=groups(),
                            argv=['-A', APP, component], auth_secret='shop-flower-auth')
        text = json.dumps(docs)
        for needle in (GROUP_SECRET, 'API_TOKEN', 'settings-password-9a8b', 'CELERY_BROKER_URL',
                       'CELERY_RESULT_BACKEND', 'FLOWER_BASIC_AUTH', 'redis://', 'amqp://'):
            assert needle not in text
        assert of_kind(docs, 'Secret') == [] and of_kind(docs, 'ConfigMap') == []
        for deployment in of_kind(docs, 'Deployment'):
            assert [item['name'] for item in container_of(deployment).get('env', [])] in (
                [], ['CELERYOPS_HEARTBEAT_FILE'])


@pytest.mark.parametrize('component', ['kubernetes', 'workers', 'Worker', ''])
def test_unknown_component(component):
    with pytest.raises(ValueError, match='unknown Kubernetes component'):
        ck.manifests(settings(), component, groups=groups(), argv=[])


# --- config and secret -----------------------------------------------------


def test_config():
    with open(PROBE_FILE) as handle:
        source = handle.read()
    docs = ck.manifests(settings(), 'config', config={'PYTHONUNBUFFERED': '1', 'WORKERS': 4, 'DEBUG': False,
                                                      'RATIO': 0.5},
                        probe_source=source)
    kinds = [(doc['kind'], doc['metadata']['name']) for doc in docs]
    assert kinds == [('ConfigMap', 'shop-config'), ('ConfigMap', 'shop-celeryops')]
    assert docs[0]['apiVersion'] == 'v1'
    assert docs[0]['data'] == {'PYTHONUNBUFFERED': '1', 'WORKERS': '4', 'DEBUG': 'False', 'RATIO': '0.5'}
    assert docs[1]['data'] == {'probe.py': source}
    for doc in docs:
        assert all(isinstance(value, str) for value in doc['data'].values())
        assert doc['metadata']['labels']['app.kubernetes.io/component'] == 'config'


def test_config_defaults():
    docs = ck.manifests(settings(), 'config')
    assert [doc['kind'] for doc in docs] == ['ConfigMap', 'ConfigMap']
    assert docs[0]['data'] == {} and docs[1]['data'] == {'probe.py': ''}


@pytest.mark.parametrize('namespace', [True, False])
def test_namespace_first_only_when_asked(namespace):
    docs = config_docs(namespace=namespace)
    if namespace:
        assert [doc['kind'] for doc in docs] == ['Namespace', 'ConfigMap', 'ConfigMap']
        assert docs[0] == {'apiVersion': 'v1', 'kind': 'Namespace',
                           'metadata': {'name': 'shop-prod', 'labels': ck.labels(settings(), 'config')}}
    else:
        assert [doc['kind'] for doc in docs] == ['ConfigMap', 'ConfigMap']


@pytest.mark.parametrize('owner, component', [
    pytest.param(None, 'config', id='default-owner-config'),
    pytest.param('flower', 'flower', id='flower'),
])
def test_secret(owner, component):
    kwargs = {'name': 'shop-secrets', 'data': {'CELERY_BROKER_URL': 'redis://:pw@r:6379/0', 'PORT': 6379,
                                               'FLAG': True}}
    if owner:
        kwargs['owner'] = owner
    docs = ck.manifests(settings(), 'secret', **kwargs)
    assert len(docs) == 1
    secret = docs[0]
    assert (secret['apiVersion'], secret['kind'], secret['type']) == ('v1', 'Secret', 'Opaque')
    assert secret['metadata']['name'] == 'shop-secrets'
    assert secret['metadata']['labels']['app.kubernetes.io/component'] == component
    assert secret['stringData'] == {'CELERY_BROKER_URL': 'redis://:pw@r:6379/0', 'PORT': '6379', 'FLAG': 'True'}
    assert all(isinstance(value, str) for value in secret['stringData'].values())
    assert 'data' not in secret


def test_secret_without_data():
    assert ck.manifests(settings(), 'secret', name='empty')[0]['stringData'] == {}


# --- against the Kubernetes schemas ----------------------------------------


def test_objects_validate_against_the_kubernetes_schemas(tmp_path, missing_tool):
    """Strict schema validation (unknown fields fail) of what the roles render.
    KEDA's objects are CRDs, outside the built-in schemas."""
    if not os.path.exists(VALIDATE):
        missing_tool('no %s (the k8s tools venv)' % VALIDATE)
    raw = copy.deepcopy(RAW_GROUPS) + [{'name': 'scaled', 'queues': ['bulk'], 'autoscaling': 'hpa',
                                        'cpu_request': 0.5, 'memory_request_mb': 256}]
    peers = [{'namespaceSelector': {'matchLabels': {'kubernetes.io/metadata.name': 'ingress-nginx'}}}]
    values = dict(service_account='shop-celery', image_pull_secrets=['regcred'], node_selector={'pool': 'celery'},
                  tolerations=[{'key': 'celery', 'operator': 'Exists', 'effect': 'NoSchedule'}],
                  flower_ingress_from=peers)
    docs = (config_docs(namespace=True, **values) + secret_docs(**values)
            + ck.manifests(settings(**values), 'worker', groups=groups(raw))
            + beat_docs(**values) + flower_docs(url_prefix='flower', auth_secret='shop-flower-auth', **values))
    assert {'HorizontalPodAutoscaler', 'Namespace', 'Secret', 'Service'} <= set(doc['kind'] for doc in docs)
    path = tmp_path / 'celery.yaml'
    path.write_text(yaml.safe_dump_all(docs))
    result = subprocess.run([VALIDATE, '--strict', '-k', '1.33.0', str(path)], capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert 'INFO' in result.stdout and 'ERROR' not in result.stdout, result.stdout


@pytest.mark.parametrize('component', sorted(COMPONENTS))
def test_every_deployment_has_a_progress_deadline(component):
    for deployment in of_kind(COMPONENTS[component](), 'Deployment'):
        assert deployment['spec']['progressDeadlineSeconds'] == 600
    docs = ck.manifests(settings(progress_deadline=120), 'worker', groups=groups())
    assert [d['spec']['progressDeadlineSeconds'] for d in of_kind(docs, 'Deployment')] == [120, 120]


def test_a_prefork_group_without_limits_gets_one_from_max_memory_per_child():
    # (80 + 2 x 97.7 MB x 1.5) x 1.25 = 467 MB: a limit, not just the 128Mi request.
    container = container_of(worker(docs=ck.manifests(settings(), 'worker', groups=group(
        pool='prefork', concurrency=2, max_memory_per_child=100000))))
    assert container['resources']['limits'] == {'memory': '467Mi'}


# ---- what the inventory says reaches the pods, and rolls them -----------

ACKS = {'task_acks_late': True, 'task_reject_on_worker_lost': True}


def resolved(raw=None, worker_settings=None, queue_type='classic'):
    """Groups through the role's one resolution (resolve_groups), as every platform gets them."""
    options = {'app_module': APP, 'settings': worker_settings or {},
               'broker': {'type': 'redis', 'consumer_timeout': 0, 'queue_type': queue_type}}
    result = cw.resolve_groups(copy.deepcopy(raw or RAW_GROUPS), options, [])
    assert result['errors'] == []
    return result['groups']


def env_of(container):
    return dict((item['name'], item['value']) for item in container['env'])


def test_group_settings_and_environment_reach_the_pods():
    raw = copy.deepcopy(RAW_GROUPS)
    raw[1]['settings'] = {'worker_cancel_long_running_tasks_on_connection_loss': True}
    resolved_groups = resolved(raw, ACKS)
    docs = ck.manifests(settings(), 'worker', groups=resolved_groups)
    for group in resolved_groups:
        container = container_of(worker(group['name'], docs))
        env = env_of(container)
        # The launcher's JSON, exactly what the group's env file holds on systemd and Compose.
        assert env[cb.SETTINGS_ENV] == group['environment'][cb.SETTINGS_ENV]
        assert json.loads(env[cb.SETTINGS_ENV]) == group['settings']
    io, cpu = (json.loads(env_of(container_of(worker(name, docs)))[cb.SETTINGS_ENV]) for name in ('io', 'cpu-heavy'))
    assert io == ACKS
    assert cpu == dict(ACKS, worker_cancel_long_running_tasks_on_connection_loss=True)
    # The rest of the group's environment: in its Secret, never in the Deployment.
    secrets = ck.manifests(settings(), 'worker_env', groups=resolved_groups)
    assert [(doc['kind'], doc['metadata']['name']) for doc in secrets] == [('Secret', 'shop-worker-io-env')]
    assert secrets[0]['stringData'] == {'API_TOKEN': GROUP_SECRET}
    assert secrets[0]['metadata']['namespace'] == 'shop-prod'
    assert GROUP_SECRET not in json.dumps(docs)


def test_no_group_secret_without_an_environment_of_its_own():
    raw = [{'name': 'io', 'queues': ['io'], 'settings': {'worker_send_task_events': True}}]
    resolved_groups = resolved(raw, ACKS, queue_type='quorum')
    assert ck.manifests(settings(), 'worker_env', groups=resolved_groups) == []
    container = container_of(worker('io', ck.manifests(settings(), 'worker', groups=resolved_groups)))
    assert [source for source in container['envFrom'] if 'secretRef' in source] == [
        {'secretRef': {'name': 'shop-secrets'}}]
    # The broker's quorum settings are in the group's JSON too (it replaces the ConfigMap's).
    settings_json = json.loads(env_of(container)[cb.SETTINGS_ENV])
    assert settings_json['task_default_queue_type'] == 'quorum'
    assert settings_json['task_acks_late'] is True


SUMS = {'config': 'c' * 64, 'secret': 's' * 64}


def annotations_of(workload):
    return workload['spec']['template']['metadata'].get('annotations', {})


def test_pod_templates_carry_the_checksums_of_what_they_read():
    docs = ck.manifests(settings(checksums=SUMS), 'worker', groups=groups())
    io = annotations_of(worker('io', docs))
    assert io['checksum/config'] == SUMS['config'] and io['checksum/secret'] == SUMS['secret']
    assert io['checksum/env'] == ck.checksum({'API_TOKEN': GROUP_SECRET})
    # No Secret of its own: no checksum of one.
    assert sorted(annotations_of(worker('cpu-heavy', docs))) == ['checksum/config', 'checksum/secret']
    beat = one(ck.manifests(settings(checksums=SUMS), 'beat', argv=['beat'], env_secret='shop-beat-env',
                            env_checksum='b' * 64), 'Deployment')
    assert annotations_of(beat) == {'checksum/config': SUMS['config'], 'checksum/secret': SUMS['secret'],
                                    'checksum/env': 'b' * 64}
    flower = one(ck.manifests(settings(checksums=SUMS), 'flower', argv=['flower'], auth_secret='shop-flower-auth',
                              auth_checksum='f' * 64), 'Deployment')
    assert annotations_of(flower)['checksum/env'] == 'f' * 64
    # Nothing known: no annotations at all (and no empty mapping).
    assert 'annotations' not in worker('cpu-heavy')['spec']['template']['metadata']


@pytest.mark.parametrize('change', ['environment', 'settings', 'shared'])
def test_a_changed_setting_or_secret_changes_the_pod_template(change):
    """What rolls a Deployment is its pod template: each change must reach it,
    and an unchanged inventory must render the same template."""
    def template(raw, sums):
        docs = ck.manifests(settings(checksums=sums), 'worker', groups=resolved(raw, ACKS))
        return worker('io', docs)['spec']['template']

    before = template(RAW_GROUPS, SUMS)
    assert template(RAW_GROUPS, dict(SUMS)) == before
    raw, sums = copy.deepcopy(RAW_GROUPS), dict(SUMS)
    if change == 'environment':
        raw[0]['environment']['API_TOKEN'] = 'rotated-token'
    elif change == 'settings':
        raw[0]['settings'] = {'worker_send_task_events': True}
    else:
        sums['secret'] = ck.checksum({'CELERY_BROKER_URL': 'redis://:rotated@redis:6379/0'})
    assert template(raw, sums) != before


def test_a_secret_you_manage_rolls_by_its_revision():
    docs = ck.manifests(settings(checksums={'config': SUMS['config'], 'secret': ''}, secret_revision='2026-12-06'),
                        'worker', groups=groups())
    assert annotations_of(worker('cpu-heavy', docs)) == {'checksum/config': SUMS['config'],
                                                         'celeryops.io/secret-revision': '2026-12-06'}


def test_checksum_is_canonical():
    assert ck.checksum({'b': 1, 'a': [1, {'y': 2, 'x': 1}]}) == ck.checksum({'a': [1, {'x': 1, 'y': 2}], 'b': 1})
    assert ck.checksum({'a': '1'}) != ck.checksum({'a': '2'})
    assert len(ck.checksum({})) == 64
    # A Secret's sum is keyed: without the key it cannot be recomputed from a guessed password.
    assert ck.checksum({'a': 'pw'}, 'redis://:k@x/0') != ck.checksum({'a': 'pw'})
    assert ck.checksum({'a': 'pw'}, 'redis://:k@x/0') != ck.checksum({'a': 'pw'}, 'redis://:other@x/0')
    docs = ck.manifests(settings(checksum_key='redis://:k@x/0'), 'worker', groups=groups())
    expected = ck.checksum({'API_TOKEN': GROUP_SECRET}, 'redis://:k@x/0')
    assert annotations_of(worker('io', docs))['checksum/env'] == expected


def test_flower_keeps_its_state_on_a_claim_when_persistent():
    argv = flower_argv(APP, address='0.0.0.0', port=ck.FLOWER_PORT, persistent=True, db='/var/lib/celery/flower.db')
    docs = ck.manifests(settings(), 'flower', argv=argv, state={'size': '1Gi', 'storage_class': 'fast'})
    claim = one(docs, 'PersistentVolumeClaim', 'shop-flower-state')
    assert claim['spec'] == {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': '1Gi'}},
                             'storageClassName': 'fast'}
    deployment = one(docs, 'Deployment', 'shop-flower')
    # Recreate: the old pod lets go of the ReadWriteOnce volume before the new one mounts it.
    assert deployment['spec']['strategy'] == {'type': 'Recreate'}
    volumes = dict((volume['name'], volume) for volume in deployment['spec']['template']['spec']['volumes'])
    assert volumes['state'] == {'name': 'state', 'persistentVolumeClaim': {'claimName': 'shop-flower-state'}}
    assert {'name': 'state', 'mountPath': '/var/lib/celery'} in container_of(deployment)['volumeMounts']
    # Not persistent: an emptyDir, no claim.
    plain = flower_docs()
    assert of_kind(plain, 'PersistentVolumeClaim') == []
    plain_volumes = one(plain, 'Deployment')['spec']['template']['spec']['volumes']
    assert dict((volume['name'], volume) for volume in plain_volumes)['state'] == {'name': 'state', 'emptyDir': {}}
