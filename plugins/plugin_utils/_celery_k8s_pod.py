# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Pod settings users add to the Kubernetes workloads (private helper).

The settings the Airflow and Superset charts offer per component:
``node_selector``, ``affinity``, ``tolerations``,
``topology_spread_constraints``, ``priority_class_name``, extra pod
``labels`` and ``annotations``, extra ``volumes`` and ``volume_mounts`` (a
CA bundle for rediss:// or amqps://). They come from three places, each
over the one before: ``celery_k8s_pod`` (every pod), the role's
``celery_<role>_k8s_pod`` and a worker group's ``k8s_pod``. Mappings merge
(labels, annotations, node_selector), lists add up (tolerations, volumes,
volume_mounts, topology_spread_constraints), the rest is replaced
(affinity, priority_class_name).

Pure functions, no Ansible imports; unit-tested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

KEYS = ('node_selector', 'affinity', 'tolerations', 'topology_spread_constraints', 'priority_class_name',
        'labels', 'annotations', 'volumes', 'volume_mounts')
MAPPINGS = ('node_selector', 'labels', 'annotations')
LISTS = ('tolerations', 'volumes', 'volume_mounts', 'topology_spread_constraints')
# The labels that select a workload's pods, and the annotations that roll
# them: the roles set these, a user value would detach or freeze the pods.
SELECTOR_LABELS = ('app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/component')
RESERVED_ANNOTATIONS = ('checksum/config', 'checksum/secret', 'checksum/env', 'celeryops.io/secret-revision')
# The volumes and mount paths every pod has already.
RESERVED_VOLUMES = ('tmp', 'celeryops', 'state')
RESERVED_PATHS = ('/tmp', '/celeryops')


def pod_errors(pod, where):
    """What is wrong with one source of pod settings (``where`` names its variable)."""
    if pod in (None, {}):
        return []
    if not isinstance(pod, dict):
        return ['%s must be a dict of pod settings; got %s' % (where, type(pod).__name__)]
    errors = []
    unknown = sorted(set(pod) - set(KEYS))
    if unknown:
        errors.append('%s has unknown keys %s (known: %s)' % (where, ', '.join(unknown), ', '.join(KEYS)))
    for key in MAPPINGS:
        value = pod.get(key)
        if value is not None and (not isinstance(value, dict)
                                  or not all(isinstance(item, str) for item in value.values())):
            errors.append('%s.%s must map names to strings' % (where, key))
    for key in LISTS:
        value = pod.get(key)
        if value is not None and (not isinstance(value, list) or not all(isinstance(item, dict) for item in value)):
            errors.append('%s.%s must be a list of dicts' % (where, key))
    if pod.get('affinity') is not None and not isinstance(pod['affinity'], dict):
        errors.append('%s.affinity must be a dict (a Kubernetes affinity)' % where)
    if pod.get('priority_class_name') is not None and not isinstance(pod['priority_class_name'], str):
        errors.append('%s.priority_class_name must be a string' % where)
    if errors:
        return errors
    taken = sorted(set(pod.get('labels') or {}) & set(SELECTOR_LABELS))
    if taken:
        errors.append('%s.labels must not set %s: the roles select the pods by them' % (where, ', '.join(taken)))
    taken = sorted(set(pod.get('annotations') or {}) & set(RESERVED_ANNOTATIONS))
    if taken:
        errors.append('%s.annotations must not set %s: the roles roll the pods by them' % (where, ', '.join(taken)))
    for volume in pod.get('volumes') or []:
        if not volume.get('name') or volume['name'] in RESERVED_VOLUMES:
            errors.append('%s.volumes: each needs a name other than %s; got %r'
                          % (where, ', '.join(RESERVED_VOLUMES), volume.get('name')))
    for mount in pod.get('volume_mounts') or []:
        if not mount.get('name') or not str(mount.get('mountPath', '')).startswith('/'):
            errors.append('%s.volume_mounts: each needs a name and an absolute mountPath; got %r' % (where, mount))
        elif mount['mountPath'].rstrip('/') in RESERVED_PATHS:
            errors.append('%s.volume_mounts: %s is the roles\' own mount' % (where, mount['mountPath']))
    return errors


def merge(*pods):
    """The pod settings of ``pods``, each over the ones before (see the module's docstring)."""
    result = {}
    for pod in pods:
        for key, value in (pod or {}).items():
            if value is None:
                continue
            if key in MAPPINGS:
                result[key] = dict(result.get(key) or {}, **value)
            elif key in LISTS:
                result[key] = list(result.get(key) or []) + list(value)
            else:
                result[key] = value
    return result


def mount_errors(pod, where):
    """Mounts of the merged settings that name no volume of them."""
    names = set(volume.get('name') for volume in pod.get('volumes') or [])
    return ['%s: volume_mounts names %r, which no volumes entry defines' % (where, mount.get('name'))
            for mount in pod.get('volume_mounts') or [] if mount.get('name') not in names]


def apply(pod_template, container, pod, selector_labels):
    """Lay the merged settings ``pod`` into a pod template and its container.

    Labels and annotations go under the roles' own (which win); a topology
    spread constraint without a labelSelector gets the component's selector.
    """
    if not pod:
        return pod_template
    spec = pod_template['spec']
    meta = pod_template['metadata']
    if pod.get('labels'):
        meta['labels'] = dict(pod['labels'], **meta['labels'])
    if pod.get('annotations'):
        meta['annotations'] = dict(pod['annotations'], **(meta.get('annotations') or {}))
    if pod.get('node_selector'):
        spec['nodeSelector'] = dict(spec.get('nodeSelector') or {}, **pod['node_selector'])
    if pod.get('tolerations'):
        spec['tolerations'] = list(spec.get('tolerations') or []) + list(pod['tolerations'])
    if pod.get('affinity'):
        spec['affinity'] = pod['affinity']
    if pod.get('priority_class_name'):
        spec['priorityClassName'] = pod['priority_class_name']
    if pod.get('topology_spread_constraints'):
        spec['topologySpreadConstraints'] = [
            dict({'labelSelector': {'matchLabels': dict(selector_labels)}}, **constraint)
            for constraint in pod['topology_spread_constraints']]
    if pod.get('volumes'):
        spec['volumes'] = list(spec.get('volumes') or []) + list(pod['volumes'])
    if pod.get('volume_mounts'):
        container['volumeMounts'] = list(container.get('volumeMounts') or []) + list(pod['volume_mounts'])
    return pod_template


def settings_errors(shared, role_variable, role_pod, groups=None):
    """Every error of the pod settings one role renders with, each naming its variable.

    ``shared``: celery_k8s_pod; ``role_variable``/``role_pod``: the role's
    celery_<role>_k8s_pod; ``groups``: celery_worker_groups (their ``k8s_pod``).
    """
    errors = pod_errors(shared, 'celery_k8s_pod') + pod_errors(role_pod, role_variable)
    if errors:
        return errors
    errors = mount_errors(merge(shared, role_pod), '%s (over celery_k8s_pod)' % role_variable)
    for index, group in enumerate(groups or []):
        if not isinstance(group, dict) or not group.get('k8s_pod'):
            continue
        where = 'celery_worker_groups[%d] (%s).k8s_pod' % (index, group.get('name'))
        found = pod_errors(group['k8s_pod'], where)
        errors += found or mount_errors(merge(shared, role_pod, group['k8s_pod']), where)
    return errors
