"""Pod settings users add (celery_k8s_pod, celery_<role>_k8s_pod, a group's k8s_pod):
merged in order, laid into the pod templates, and refused when they would
break what the roles rely on, each error naming its variable."""

import copy

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s as ck
from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_k8s_pod as cp
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw

SETTINGS = {
    'app_name': 'shop', 'app_module': 'shop.celery:app', 'image': 'shop:1', 'namespace': 'shop',
    'config_name': 'shop-config', 'probe_config_name': 'shop-celeryops', 'secret_name': 'shop-secrets',
    'node_selector': {'pool': 'celery'}, 'tolerations': [{'key': 'celery', 'operator': 'Exists'}],
}
CA = {'volumes': [{'name': 'ca', 'configMap': {'name': 'corp-ca'}}],
      'volume_mounts': [{'name': 'ca', 'mountPath': '/etc/ssl/corp', 'readOnly': True}]}


def worker(settings, group_pod=None):
    group = {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8, 'memory_limit_mb': 300}
    if group_pod:
        group['k8s_pod'] = group_pod
    docs = ck.manifests(settings, 'worker', groups=cw.normalize_groups([group], 'shop.celery:app'))
    return [doc for doc in docs if doc['kind'] == 'Deployment'][0]['spec']['template']


def test_settings_merge_shared_then_role_then_group():
    settings = dict(SETTINGS, pod=dict(CA, labels={'team': 'data', 'tier': 'a'}, priority_class_name='low',
                                       tolerations=[{'key': 'spot', 'operator': 'Exists'}]),
                    role_pod={'labels': {'tier': 'b'}, 'node_selector': {'disk': 'ssd'}, 'priority_class_name': 'mid'})
    template = worker(settings, {'priority_class_name': 'high', 'annotations': {'team/owner': 'io'},
                                 'topology_spread_constraints': [{'maxSkew': 1, 'topologyKey': 'zone',
                                                                  'whenUnsatisfiable': 'ScheduleAnyway'}]})
    spec, meta = template['spec'], template['metadata']
    assert meta['labels']['team'] == 'data' and meta['labels']['tier'] == 'b'
    # the roles' own labels stay, and win
    assert meta['labels']['app.kubernetes.io/component'] == 'worker-io'
    assert meta['annotations'] == {'team/owner': 'io'}
    assert spec['priorityClassName'] == 'high'
    assert spec['nodeSelector'] == {'pool': 'celery', 'disk': 'ssd'}
    assert spec['tolerations'] == [{'key': 'celery', 'operator': 'Exists'}, {'key': 'spot', 'operator': 'Exists'}]
    # a constraint without a labelSelector spreads this component's pods
    assert spec['topologySpreadConstraints'] == [{
        'maxSkew': 1, 'topologyKey': 'zone', 'whenUnsatisfiable': 'ScheduleAnyway',
        'labelSelector': {'matchLabels': ck.selector(settings, 'worker-io')}}]
    assert {'name': 'ca', 'configMap': {'name': 'corp-ca'}} in spec['volumes']
    assert {'name': 'ca', 'mountPath': '/etc/ssl/corp', 'readOnly': True} in spec['containers'][0]['volumeMounts']


def test_no_settings_change_nothing():
    assert worker(dict(SETTINGS, pod={}, role_pod={})) == worker(SETTINGS)
    assert 'affinity' not in worker(SETTINGS)['spec']


def test_beat_and_flower_take_the_role_settings():
    settings = dict(SETTINGS, pod={'labels': {'team': 'data'}}, role_pod={'priority_class_name': 'beat-prio'})
    beat = [doc for doc in ck.manifests(settings, 'beat', argv=['beat']) if doc['kind'] == 'Deployment'][0]
    flower = [doc for doc in ck.manifests(settings, 'flower', argv=['flower']) if doc['kind'] == 'Deployment'][0]
    for workload in (beat, flower):
        assert workload['spec']['template']['spec']['priorityClassName'] == 'beat-prio'
        assert workload['spec']['template']['metadata']['labels']['team'] == 'data'


@pytest.mark.parametrize('pod, fragment', [
    ({'labels': {'app.kubernetes.io/component': 'x'}}, 'celery_worker_k8s_pod.labels must not set'),
    ({'annotations': {'checksum/config': 'x'}}, 'celery_worker_k8s_pod.annotations must not set checksum/config'),
    ({'volumes': [{'name': 'tmp', 'emptyDir': {}}]}, "a name other than tmp, celeryops, state; got 'tmp'"),
    ({'volume_mounts': [{'name': 'ca', 'mountPath': '/etc/ssl'}]}, "volume_mounts names 'ca', which no volumes"),
    ({'volume_mounts': [{'name': 'x', 'mountPath': 'relative'}]}, 'an absolute mountPath'),
    ({'volume_mounts': [{'name': 'x', 'mountPath': '/tmp'}]}, "/tmp is the roles' own mount"),
    ({'labels': {'team': 1}}, 'celery_worker_k8s_pod.labels must map names to strings'),
    ({'sidecars': []}, 'celery_worker_k8s_pod has unknown keys sidecars'),
    ({'affinity': 'spread'}, 'celery_worker_k8s_pod.affinity must be a dict'),
])
def test_settings_that_would_break_the_pods_are_refused(pod, fragment):
    errors = cp.settings_errors({}, 'celery_worker_k8s_pod', pod)
    assert any(fragment in error for error in errors), errors


def test_a_group_mount_may_use_a_shared_volume_and_errors_name_the_group():
    shared = {'volumes': CA['volumes']}
    groups = [{'name': 'io', 'queues': ['io'], 'k8s_pod': {'volume_mounts': CA['volume_mounts']}},
              {'name': 'cpu', 'queues': ['cpu'], 'k8s_pod': {'volume_mounts': [{'name': 'nope', 'mountPath': '/x'}]}}]
    errors = cp.settings_errors(shared, 'celery_worker_k8s_pod', {}, copy.deepcopy(groups))
    assert errors == ["celery_worker_groups[1] (cpu).k8s_pod: volume_mounts names 'nope', which no volumes entry"
                      " defines"]
    assert cp.settings_errors(shared, 'celery_worker_k8s_pod', {}, groups[:1]) == []
