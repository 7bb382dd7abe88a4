# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Kubernetes manifests for the Celery worker groups, beat and Flower.

Pure functions (no Ansible imports, unit-tested). The command lines come
from the same builders as on systemd and Compose; the probes run the same
``celeryops-probe.py`` (mounted from a ConfigMap).

Probes, and why (the charts of Superset, Airflow and Sentry learned this):
a worker whose liveness probe is ``celery inspect ping`` is restarted in a
loop whenever the broker is briefly unreachable, and restarting does not
bring the broker back. So:

- startup and readiness: ``probe.py ping <group>``, the worker's own node
  answers a broadcast ping (it consumes from the broker);
- liveness: ``probe.py alive <group>``, which fails only when the broker
  answers and the worker does not (wedged); during a broker outage it
  passes and the worker reconnects by itself.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import hmac
import json
import re

from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_alerts import flower_metrics_path, rules_for, target_labels
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import settings_env
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s_pod import apply as apply_pod
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s_pod import merge as merge_pod
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_plan import k8s_cpu as plan_k8s_cpu
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import launcher_command

PROBE_MOUNT = '/celeryops'
PROBE_PATH = PROBE_MOUNT + '/probe.py'
# The launcher (celeryops-celery.py), from the same ConfigMap: every worker
# runs through it (the inventory's settings, the heartbeat the probes read).
LAUNCHER_PATH = PROBE_MOUNT + '/launcher.py'
# The launcher's heartbeat, on the in-memory /tmp volume of every pod.
HEARTBEAT_ENV = 'CELERYOPS_HEARTBEAT_FILE'
HEARTBEAT_FILE = '/tmp/celeryops-heartbeat.json'
FLOWER_PORT = 5555
MANAGED_BY = 'celeryops.deploy'


def k8s_cpu(cpus):
    """Kubernetes CPU quantity (the plan's rounding), also for numbers that arrive as strings."""
    return plan_k8s_cpu(float(cpus))


def labels(settings, component):
    """The recommended app.kubernetes.io labels; the first three select pods."""
    result = selector(settings, component)
    result['app.kubernetes.io/part-of'] = settings['app_name']
    result['app.kubernetes.io/managed-by'] = MANAGED_BY
    version = image_tag(settings['image'])
    if version:
        result['app.kubernetes.io/version'] = version
    return result


def selector(settings, component):
    return {
        'app.kubernetes.io/name': 'celery',
        'app.kubernetes.io/instance': settings['app_name'],
        'app.kubernetes.io/component': component,
    }


LABEL_VALUE_RE = re.compile(r'^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$')


def image_tag(image):
    """The tag of an image reference, when it is a valid label value."""
    name = image.split('@', 1)[0]
    last = name.rsplit('/', 1)[-1]
    if ':' not in last:
        return ''
    tag = last.rsplit(':', 1)[1]
    return tag if LABEL_VALUE_RE.match(tag) else ''


def metadata(settings, name, component):
    return {'name': name, 'namespace': settings['namespace'], 'labels': labels(settings, component)}


def _probe_exec(settings, *args):
    """An exec probe. ``ready`` reads the heartbeat file only (no app import)."""
    app = [] if args[0] == 'ready' else ['--app', settings['app_module']]
    return {'exec': {'command': [settings.get('python', 'python3'), PROBE_PATH] + app + list(args)}}


def _heartbeat_env():
    """Where the launcher writes the heartbeat the probes read (the /tmp emptyDir)."""
    return [{'name': HEARTBEAT_ENV, 'value': HEARTBEAT_FILE}]


def _timing(settings, kind):
    """Probe timings (seconds) from settings['probes'][kind], with defaults."""
    defaults = {
        'startup': {'periodSeconds': 10, 'timeoutSeconds': 20, 'failureThreshold': 30},
        'readiness': {'periodSeconds': 30, 'timeoutSeconds': 20, 'failureThreshold': 3},
        'liveness': {'periodSeconds': 60, 'timeoutSeconds': 30, 'failureThreshold': 3},
    }[kind]
    given = (settings.get('probes') or {}).get(kind) or {}
    return dict((key, int(given.get(key, value))) for key, value in defaults.items())


def _env_from(settings, extra_secret=None):
    sources = [{'configMapRef': {'name': settings['config_name']}},
               {'secretRef': {'name': settings['secret_name']}}]
    if extra_secret:
        sources.append({'secretRef': {'name': extra_secret}})
    return sources


def _container_security():
    return {
        'allowPrivilegeEscalation': False,
        'readOnlyRootFilesystem': True,
        'runAsNonRoot': True,
        'privileged': False,
        'capabilities': {'drop': ['ALL']},
    }


def checksum(data, key=''):
    """SHA-256 of ``data``'s canonical JSON (sorted keys): the same data gives
    the same sum on any machine, and any change of a value changes it.

    The sums of Secrets' data sit in files meant to be committed, so those
    are an HMAC keyed with ``key`` (the roles give the broker URL, itself a
    secret): a plain hash of a weak password could be guessed offline.
    """
    text = json.dumps(data, sort_keys=True, separators=(',', ':'), default=str).encode('utf-8')
    if key:
        return hmac.new(str(key).encode('utf-8'), text, hashlib.sha256).hexdigest()
    return hashlib.sha256(text).hexdigest()


def pod_annotations(settings, own_checksum=''):
    """The pod template's checksums of what its pods read (Helm's convention).

    A Deployment or StatefulSet rolls only when its pod template changes; a
    rewritten ConfigMap or Secret alone leaves running pods on the old
    values (envFrom is read once, at container start). So the template
    carries ``checksum/config`` and ``checksum/secret`` (the shared objects,
    ``settings['checksums']``), ``checksum/env`` (the component's own
    Secret) and, for a Secret you manage, ``celeryops.io/secret-revision``
    (``settings['secret_revision']``): a change of any rolls the pods under
    the workload's strategy.
    """
    sums = settings.get('checksums') or {}
    result = {}
    for key in ('config', 'secret'):
        if sums.get(key):
            result['checksum/%s' % key] = str(sums[key])
    if own_checksum:
        result['checksum/env'] = str(own_checksum)
    if settings.get('secret_revision'):
        result['celeryops.io/secret-revision'] = str(settings['secret_revision'])
    return result


def _pod(settings, component, container, grace, extra_volumes=None, own_checksum='', group_pod=None):
    volumes = [
        {'name': 'tmp', 'emptyDir': {'medium': 'Memory', 'sizeLimit': '64Mi'}},
        {'name': 'celeryops', 'configMap': {'name': settings['probe_config_name'], 'defaultMode': 0o444}},
    ] + list(extra_volumes or [])
    container.setdefault('volumeMounts', [])
    container['volumeMounts'] = [{'name': 'tmp', 'mountPath': '/tmp'},
                                 {'name': 'celeryops', 'mountPath': PROBE_MOUNT, 'readOnly': True}] \
        + container['volumeMounts']
    spec = {
        'automountServiceAccountToken': False,
        'enableServiceLinks': False,
        'terminationGracePeriodSeconds': int(grace),
        'securityContext': {
            'runAsNonRoot': True,
            'runAsUser': int(settings.get('uid', 10001)),
            'runAsGroup': int(settings.get('gid', 10001)),
            'fsGroup': int(settings.get('gid', 10001)),
            'seccompProfile': {'type': 'RuntimeDefault'},
        },
        'containers': [container],
        'volumes': volumes,
    }
    if settings.get('service_account'):
        spec['serviceAccountName'] = settings['service_account']
    if settings.get('image_pull_secrets'):
        spec['imagePullSecrets'] = [{'name': name} for name in settings['image_pull_secrets']]
    if settings.get('node_selector'):
        spec['nodeSelector'] = dict(settings['node_selector'])
    if settings.get('tolerations'):
        spec['tolerations'] = list(settings['tolerations'])
    meta = {'labels': labels(settings, component)}
    annotations = pod_annotations(settings, own_checksum)
    if annotations:
        meta['annotations'] = annotations
    # What the user adds (celery_k8s_pod, the role's, the group's: _celery_k8s_pod).
    pod = merge_pod(settings.get('pod'), settings.get('role_pod'), group_pod)
    return apply_pod({'metadata': meta, 'spec': spec}, container, pod, selector(settings, component))


def _container(settings, name, args, extra_secret=None, command=None):
    return {
        'name': name,
        'image': settings['image'],
        'imagePullPolicy': settings.get('image_pull_policy', 'IfNotPresent'),
        'command': list(command or ['celery']),
        'args': list(args),
        'envFrom': _env_from(settings, extra_secret),
        'securityContext': _container_security(),
    }


def _resources(group):
    """Requests and limits of one replica.

    Requests default to 100m CPU / 128Mi (never above a given limit); limits
    are only what the group sets or the plan computed (a group without
    either gets none: a guessed limit would throttle or OOM-kill it).
    """
    requests, limits = {}, {}
    if group.get('cpu_limit'):
        limits['cpu'] = k8s_cpu(group['cpu_limit'])
    if group.get('memory_limit_mb'):
        limits['memory'] = '%dMi' % int(group['memory_limit_mb'])
    cpu = group.get('cpu_request') or min(0.1, float(group.get('cpu_limit') or 0.1))
    memory = group.get('memory_request_mb') or min(128, int(group.get('memory_limit_mb') or 128))
    requests['cpu'] = k8s_cpu(cpu)
    requests['memory'] = '%dMi' % int(memory)
    result = {'requests': requests}
    if limits:
        result['limits'] = limits
    return result


def _deployment(settings, name, component, pod, replicas=None, strategy=None):
    spec = {
        'revisionHistoryLimit': 5,
        # After this long without progress the rollout is failed (the roles
        # wait for it when they apply, and fail naming the Deployment).
        'progressDeadlineSeconds': int(settings.get('progress_deadline', 600)),
        'selector': {'matchLabels': selector(settings, component)},
        'template': pod,
    }
    if replicas is not None:
        spec['replicas'] = int(replicas)
    if strategy:
        spec['strategy'] = strategy
    return {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'metadata': metadata(settings, name, component),
            'spec': spec}


def group_environment(group):
    """A group's environment on Kubernetes: ``(inline, own)``.

    ``inline``: the launcher's Celery settings (CELERYOPS_CELERY_SETTINGS:
    celery_worker_settings, the acks variables, the broker's and the group's
    own ``settings``), which preflight keeps free of secrets: in the
    container's ``env``, readable in the Deployment, and over the shared
    ConfigMap's value as a group's env file is over the shared one on
    systemd and Compose. ``own``: the rest of the group's ``environment``
    (it may hold secrets), for the group's Secret (group_secret_name).
    """
    environment = dict(group.get('environment') or {})
    inline = dict((key, environment.pop(key)) for key in settings_env(group.get('settings'))
                  if key in environment)
    return inline, environment


def group_secret_name(settings, group):
    return '%s-worker-%s-env' % (settings['app_name'], group['name'])


def worker_secret_manifests(groups, settings):
    """The Secret of each group that has an environment of its own (see group_environment)."""
    docs = []
    for group in groups:
        own = group_environment(group)[1]
        if own:
            docs.append(secret_manifest(settings, group_secret_name(settings, group), own,
                                        'worker-%s' % group['name']))
    return docs


def worker_manifests(groups, settings):
    """Per group: Deployment, PodDisruptionBudget and, when asked, HPA or KEDA ScaledObject."""
    docs = []
    for group in groups:
        component = 'worker-%s' % group['name']
        name = '%s-%s' % (settings['app_name'], component)
        inline, own = group_environment(group)
        container = _container(settings, 'worker', list(group['argv']) + ['--hostname=%s@%%h' % group['name']],
                               group_secret_name(settings, group) if own else None,
                               command=launcher_command(settings.get('python', 'python3'), LAUNCHER_PATH))
        container['resources'] = _resources(group)
        container['env'] = _heartbeat_env() + [{'name': key, 'value': str(value)}
                                               for key, value in sorted(inline.items())]
        # Ready = consuming, from the heartbeat file; liveness asks Celery
        # only when the heartbeat is stale (wedged, or the broker is down).
        container['startupProbe'] = dict(_probe_exec(settings, 'ready', group['name']), **_timing(settings, 'startup'))
        container['readinessProbe'] = dict(_probe_exec(settings, 'ready', group['name']),
                                           **_timing(settings, 'readiness'))
        container['livenessProbe'] = dict(_probe_exec(settings, 'alive', group['name']),
                                          **_timing(settings, 'liveness'))
        pod = _pod(settings, component, container, group['stop_timeout'],
                   own_checksum=checksum(own, settings.get('checksum_key', '')) if own else '',
                   group_pod=group.get('k8s_pod'))
        autoscaling = group.get('autoscaling') or settings.get('autoscaling') or 'none'
        replicas = int(group.get('instances') or 1)
        # A new pod consumes before an old one stops (and finishes its tasks).
        strategy = {'type': 'RollingUpdate', 'rollingUpdate': {'maxSurge': 1, 'maxUnavailable': 0}}
        # With an autoscaler the Deployment leaves replicas to it, or every
        # apply would reset them.
        docs.append(_deployment(settings, name, component, pod,
                                None if autoscaling != 'none' else replicas, strategy))
        if settings.get('network_policy', True):
            docs.append(network_policy(settings, name, component))
        docs.append({
            'apiVersion': 'policy/v1', 'kind': 'PodDisruptionBudget',
            'metadata': metadata(settings, name, component),
            'spec': {'maxUnavailable': 1, 'selector': {'matchLabels': selector(settings, component)}},
        })
        max_replicas = int(group.get('max_replicas') or replicas * 4)
        if autoscaling == 'hpa':
            docs.append(hpa(settings, name, component, replicas, max_replicas))
        elif autoscaling == 'keda':
            docs.extend(keda(settings, name, component, group, replicas, max_replicas))
    return docs


def network_policy(settings, name, component, port=None, peers=None):
    """Ingress policy of one component's pods: none at all (workers, beat
    only connect out to the broker), or only the given TCP port (Flower, the
    broker exporter), from ``peers`` when given (else from every peer).
    Egress stays open: the broker may be anywhere."""
    spec = {'podSelector': {'matchLabels': selector(settings, component)}, 'policyTypes': ['Ingress']}
    if port:
        rule = {'ports': [{'protocol': 'TCP', 'port': port}]}
        if peers:
            rule['from'] = list(peers)
        spec['ingress'] = [rule]
    else:
        spec['ingress'] = []
    return {'apiVersion': 'networking.k8s.io/v1', 'kind': 'NetworkPolicy',
            'metadata': metadata(settings, name, component), 'spec': spec}


def hpa(settings, name, component, replicas, max_replicas):
    return {
        'apiVersion': 'autoscaling/v2', 'kind': 'HorizontalPodAutoscaler',
        'metadata': metadata(settings, name, component),
        'spec': {
            'scaleTargetRef': {'apiVersion': 'apps/v1', 'kind': 'Deployment', 'name': name},
            'minReplicas': replicas,
            'maxReplicas': max_replicas,
            'metrics': [{'type': 'Resource', 'resource': {
                'name': 'cpu', 'target': {'type': 'Utilization',
                                          'averageUtilization': int(settings.get('hpa_cpu_percent', 70))}}}],
        },
    }


def keda(settings, name, component, group, replicas, max_replicas):
    """A KEDA ScaledObject on queue length and its TriggerAuthentication.

    Redis (list per queue): ``address`` host:port, ``listName``,
    ``listLength`` = the plan's per-replica threshold; the password comes
    from the Secret key ``keda_secret_key``. RabbitMQ: ``queueName``,
    ``mode: QueueLength``, ``value``; the AMQP URL from the Secret key.
    """
    broker = settings.get('keda_broker') or {}
    threshold = str(int(group.get('autoscale_queue_length') or 1))
    auth_name = '%s-keda' % name
    triggers = []
    for queue in group['queues']:
        if broker.get('type') == 'rabbitmq':
            metadata_ = {'protocol': 'amqp', 'queueName': queue, 'mode': 'QueueLength', 'value': threshold}
            triggers.append({'type': 'rabbitmq', 'metadata': metadata_, 'authenticationRef': {'name': auth_name}})
        else:
            metadata_ = {'address': '%s:%d' % (broker.get('host', 'redis'), int(broker.get('port', 6379))),
                         'listName': queue, 'listLength': threshold,
                         'databaseIndex': str(int(broker.get('db', 0)))}
            if broker.get('tls'):
                metadata_['enableTLS'] = 'true'
            triggers.append({'type': 'redis', 'metadata': metadata_, 'authenticationRef': {'name': auth_name}})
    parameter = 'host' if broker.get('type') == 'rabbitmq' else 'password'
    auth = {
        'apiVersion': 'keda.sh/v1alpha1', 'kind': 'TriggerAuthentication',
        'metadata': metadata(settings, auth_name, component),
        'spec': {'secretTargetRef': [{'parameter': parameter, 'name': settings['secret_name'],
                                      'key': settings.get('keda_secret_key', 'KEDA_BROKER_AUTH')}]},
    }
    scaled = {
        'apiVersion': 'keda.sh/v1alpha1', 'kind': 'ScaledObject',
        'metadata': metadata(settings, name, component),
        'spec': {
            'scaleTargetRef': {'name': name},
            'minReplicaCount': replicas,
            'maxReplicaCount': max_replicas,
            'pollingInterval': 15,
            # Scale-in waits a while: a worker stopping mid-burst wastes its warm-up.
            'cooldownPeriod': 300,
            'triggers': triggers,
        },
    }
    return [auth, scaled]


def beat_manifests(argv, settings, stop_timeout=60, replicas=1, env_secret='', state=None, env_checksum=''):
    """Beat: one replica, Recreate (never two beats during a rollout); with a
    locking scheduler (RedBeat) ``replicas`` of them, rolled one at a time
    with the new pod ready first (the standbys wait for the lock).
    ``env_secret``: a Secret with beat's own environment (RedBeat's settings,
    celery_beat_environment), ``env_checksum`` the checksum of its data.
    ``state``: where the default scheduler's schedule file lives: ``{'kind':
    'ephemeral'}`` (an emptyDir: a rescheduled pod forgets when each task
    last ran), ``{'kind': 'claim', 'claim': name}`` (a claim you made, on the
    Deployment) or ``{'kind': 'statefulset', 'size': '64Mi', 'storage_class':
    ''}`` (a StatefulSet of one with its own claim; a StatefulSet never runs
    two pods of one ordinal, so the singleton holds through rollouts too)."""
    state = state or {'kind': 'ephemeral'}
    component = 'beat'
    name = '%s-beat' % settings['app_name']
    container = _container(settings, 'beat', argv, env_secret or None,
                           command=[settings.get('python', 'python3'), LAUNCHER_PATH])
    container['env'] = _heartbeat_env()
    container['resources'] = _resources(settings.get('beat_resources') or {
        'cpu_request': 0.05, 'memory_request_mb': 128, 'memory_limit_mb': 256, 'cpu_limit': 0.5})
    container['volumeMounts'] = [{'name': 'state', 'mountPath': settings.get('state_dir', '/var/lib/celery')}]
    # Beat is ready when its heartbeat says it schedules on time (the
    # launcher marks each pass and when the next is due). No liveness probe:
    # beat exits on fatal errors (the kubelet restarts it).
    container['startupProbe'] = dict(_probe_exec(settings, 'ready'), **_timing(settings, 'startup'))
    container['readinessProbe'] = dict(_probe_exec(settings, 'ready'), **_timing(settings, 'readiness'))
    volumes = []
    if state['kind'] == 'claim':
        volumes = [{'name': 'state', 'persistentVolumeClaim': {'claimName': state['claim']}}]
    elif state['kind'] != 'statefulset':
        volumes = [{'name': 'state', 'emptyDir': {}}]
    pod = _pod(settings, component, container, stop_timeout, volumes, env_checksum if env_secret else '')
    skip = {'checkov.io/skip1': 'CKV_K8S_8=beat answers no ping and a broker check would restart it during broker'
                                ' outages; it exits on fatal errors and the kubelet restarts it'}
    if state['kind'] == 'statefulset':
        workload = _beat_statefulset(settings, name, component, pod, state)
        workload['metadata']['annotations'] = skip
        docs = [_headless_service(settings, name, component), workload]
    else:
        strategy = {'type': 'Recreate'} if int(replicas) == 1 else {
            'type': 'RollingUpdate', 'rollingUpdate': {'maxUnavailable': 0, 'maxSurge': 1}}
        workload = _deployment(settings, name, component, pod, int(replicas), strategy)
        workload['metadata']['annotations'] = skip
        docs = [workload]
    if settings.get('network_policy', True):
        docs.append(network_policy(settings, name, component))
    return docs


def _beat_statefulset(settings, name, component, pod, state):
    claim = {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': state.get('size') or '64Mi'}}}
    if state.get('storage_class'):
        claim['storageClassName'] = state['storage_class']
    return {
        'apiVersion': 'apps/v1', 'kind': 'StatefulSet', 'metadata': metadata(settings, name, component),
        'spec': {
            'replicas': 1,
            'serviceName': name,
            'revisionHistoryLimit': 5,
            'podManagementPolicy': 'OrderedReady',
            # The old pod is gone before the new one starts (one ordinal).
            'updateStrategy': {'type': 'RollingUpdate'},
            # The claim stays when beat is scaled down or removed: the
            # schedule's last runs survive a redeploy.
            'persistentVolumeClaimRetentionPolicy': {'whenDeleted': 'Retain', 'whenScaled': 'Retain'},
            'selector': {'matchLabels': selector(settings, component)},
            'template': pod,
            'volumeClaimTemplates': [{'metadata': {'name': 'state', 'labels': labels(settings, component)},
                                      'spec': claim}],
        },
    }


def _headless_service(settings, name, component):
    """The StatefulSet's governing Service: names its pod, serves nothing."""
    return {'apiVersion': 'v1', 'kind': 'Service', 'metadata': metadata(settings, name, component),
            'spec': {'clusterIP': 'None', 'selector': selector(settings, component)}}


def cron_manifests(cronjobs, settings, app_module):
    """Periodic tasks as CronJobs that send the task (Kubernetes owns the clock; no beat).

    Each run is one pod running ``celery call`` through the launcher (so the
    app gets the inventory's settings, quorum queues included): it publishes
    and exits. ``concurrencyPolicy: Forbid`` and the deadlines keep a slow
    broker from piling up senders; a run missed by more than its starting
    deadline is skipped, never sent late in a burst.
    """
    docs = []
    for job in cronjobs:
        name = cron_name(settings['app_name'], job['name'])
        args = ['-A', app_module, 'call', job['task'],
                '--args', json.dumps(job.get('args') or [], sort_keys=True, separators=(',', ':')),
                '--kwargs', json.dumps(job.get('kwargs') or {}, sort_keys=True, separators=(',', ':'))]
        if job.get('queue'):
            args += ['--queue', job['queue']]
        if job.get('expires_s'):
            args += ['--expires', str(int(job['expires_s']))]
        container = _container(settings, 'send', args, command=[settings.get('python', 'python3'), LAUNCHER_PATH])
        container['resources'] = _resources(settings.get('cron_resources') or {
            'cpu_request': 0.05, 'memory_request_mb': 64, 'memory_limit_mb': 256, 'cpu_limit': 0.5})
        pod = _pod(settings, 'cron', container, 30)
        pod['spec']['restartPolicy'] = 'Never'
        spec = {
            'schedule': job['schedule'],
            'concurrencyPolicy': 'Forbid',
            'startingDeadlineSeconds': int(job.get('starting_deadline_s') or 300),
            'successfulJobsHistoryLimit': 3,
            'failedJobsHistoryLimit': 3,
            'jobTemplate': {
                'metadata': {'labels': labels(settings, 'cron')},
                'spec': {
                    # A publish that failed may be tried again; one that
                    # succeeded exits 0 and is never repeated.
                    'backoffLimit': 2,
                    'activeDeadlineSeconds': int(job.get('active_deadline_s') or 120),
                    'ttlSecondsAfterFinished': 86400,
                    'template': pod,
                },
            },
        }
        if job.get('time_zone'):
            spec['timeZone'] = job['time_zone']
        cron = {'apiVersion': 'batch/v1', 'kind': 'CronJob', 'metadata': metadata(settings, name, 'cron'),
                'spec': spec}
        cron['metadata']['annotations'] = {
            'checkov.io/skip1': 'CKV_K8S_8=a sender runs for seconds and exits: no liveness to probe',
            'checkov.io/skip2': 'CKV_K8S_9=a sender serves nothing: no readiness to probe'}
        docs.append(cron)
    if docs and settings.get('network_policy', True):
        docs.append(network_policy(settings, '%s-cron' % settings['app_name'], 'cron'))
    return docs


def cron_name(app_name, job_name):
    return '%s-cron-%s' % (app_name, job_name)


def flower_state_claim_name(settings):
    return '%s-flower-state' % settings['app_name']


def flower_manifests(argv, settings, url_prefix='', auth_secret='', auth_checksum='', state=None):
    """Flower: Deployment and ClusterIP Service, httpGet probes on /healthcheck.
    ``auth_checksum``: the checksum of its credentials Secret's data.
    ``state``: with celery_flower_persistent, ``{'size', 'storage_class'}`` of
    the claim its db lives on (<app>-flower-state; the Recreate strategy
    never runs two pods on the ReadWriteOnce volume); None: an emptyDir."""
    component = 'flower'
    name = '%s-flower' % settings['app_name']
    # Through the launcher (the celeryops ConfigMap every pod mounts): it puts
    # /metrics behind Flower's login unless argv asks otherwise.
    container = _container(settings, 'flower', argv, auth_secret or None,
                           command=launcher_command(settings.get('python', 'python3'), LAUNCHER_PATH))
    container['ports'] = [{'name': 'http', 'containerPort': FLOWER_PORT, 'protocol': 'TCP'}]
    container['resources'] = _resources(settings.get('flower_resources') or {
        'cpu_request': 0.05, 'memory_request_mb': 128, 'memory_limit_mb': 512, 'cpu_limit': 1})
    prefix = url_prefix.strip('/')
    path = '/%s/healthcheck' % prefix if prefix else '/healthcheck'
    http = {'httpGet': {'path': path, 'port': 'http'}}
    container['startupProbe'] = dict(http, periodSeconds=5, timeoutSeconds=5, failureThreshold=24)
    container['readinessProbe'] = dict(http, periodSeconds=10, timeoutSeconds=5, failureThreshold=3)
    container['livenessProbe'] = dict(http, periodSeconds=30, timeoutSeconds=10, failureThreshold=3)
    container['volumeMounts'] = [{'name': 'state', 'mountPath': settings.get('state_dir', '/var/lib/celery')}]
    if state:
        volume = {'name': 'state', 'persistentVolumeClaim': {'claimName': flower_state_claim_name(settings)}}
    else:
        volume = {'name': 'state', 'emptyDir': {}}
    pod = _pod(settings, component, container, 30, [volume], auth_checksum)
    service = {
        'apiVersion': 'v1', 'kind': 'Service', 'metadata': metadata(settings, name, component),
        'spec': {'type': 'ClusterIP', 'selector': selector(settings, component),
                 'ports': [{'name': 'http', 'port': FLOWER_PORT, 'targetPort': 'http', 'protocol': 'TCP'}]},
    }
    service['metadata']['labels'].update(target_labels(settings['app_name'], component))
    docs = [_deployment(settings, name, component, pod, 1, {'type': 'Recreate'}), service]
    if state:
        claim = {'accessModes': ['ReadWriteOnce'], 'resources': {'requests': {'storage': state.get('size') or '256Mi'}}}
        if state.get('storage_class'):
            claim['storageClassName'] = state['storage_class']
        docs.insert(0, {'apiVersion': 'v1', 'kind': 'PersistentVolumeClaim',
                        'metadata': metadata(settings, flower_state_claim_name(settings), component), 'spec': claim})
    if settings.get('network_policy', True):
        # Prometheus scrapes Flower too (celery_k8s_prometheus_from), when
        # celery_flower_k8s_ingress_from limits who reaches it.
        peers = settings.get('flower_ingress_from') or []
        if peers:
            peers = list(peers) + list(settings.get('prometheus_from') or [])
        docs.append(network_policy(settings, name, component, FLOWER_PORT, peers))
    return docs


EXPORTER_PORT = 9121
# The rules' celeryops_component of a scraped component, where it differs.
SCRAPED_AS = {'broker-exporter': 'broker'}


def exporter_manifests(settings, exporter):
    """The broker exporter (celery_broker_exporter_enabled): the Deployment
    <app>-broker-exporter (one prometheus-redis-exporter from
    ``exporter_image``, sandboxed like the Celery pods, probed on /health),
    its Service (port ``metrics``, labelled celeryops_component=broker for
    the rules and a ServiceMonitor) and a NetworkPolicy admitting only its
    port, from ``prometheus_from`` when given.
    ``exporter``: ``url`` (the broker's), ``queues`` (to measure). The
    password reaches it as REDIS_PASSWORD from the shared Secret's
    ``keda_secret_key`` (the Redis password, as KEDA reads it), never in its
    arguments; the pod template's checksum/secret rolls it when it changes."""
    from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
        broker_auth, redis_exporter_argv)
    component = 'broker-exporter'
    name = '%s-broker-exporter' % settings['app_name']
    url = exporter['url']
    container = {
        'name': 'broker-exporter',
        'image': settings['exporter_image'],
        'imagePullPolicy': settings.get('image_pull_policy', 'IfNotPresent'),
        'command': [settings.get('exporter_command') or '/usr/bin/prometheus-redis-exporter'],
        'args': redis_exporter_argv(url, exporter.get('queues') or [], ':%d' % EXPORTER_PORT),
        'securityContext': _container_security(),
        'ports': [{'name': 'metrics', 'containerPort': EXPORTER_PORT, 'protocol': 'TCP'}],
        'resources': _resources({'cpu_request': 0.01, 'memory_request_mb': 32, 'memory_limit_mb': 128,
                                 'cpu_limit': 0.5}),
    }
    if broker_auth(url):
        container['env'] = [{'name': 'REDIS_PASSWORD', 'valueFrom': {'secretKeyRef': {
            'name': settings['secret_name'], 'key': settings.get('keda_secret_key') or 'KEDA_BROKER_AUTH'}}}]
    http = {'httpGet': {'path': '/health', 'port': 'metrics'}}
    container['readinessProbe'] = dict(http, periodSeconds=10, timeoutSeconds=5, failureThreshold=3)
    container['livenessProbe'] = dict(http, periodSeconds=30, timeoutSeconds=10, failureThreshold=3)
    pod = _pod(settings, component, container, 10)
    service = {
        'apiVersion': 'v1', 'kind': 'Service', 'metadata': metadata(settings, name, component),
        'spec': {'type': 'ClusterIP', 'selector': selector(settings, component),
                 'ports': [{'name': 'metrics', 'port': EXPORTER_PORT, 'targetPort': 'metrics', 'protocol': 'TCP'}]},
    }
    service['metadata']['labels'].update(target_labels(settings['app_name'], SCRAPED_AS[component]))
    docs = [_deployment(settings, name, component, pod, 1), service]
    if settings.get('network_policy', True):
        docs.append(network_policy(settings, name, component, EXPORTER_PORT, settings.get('prometheus_from')))
    return docs


def exporter_objects(settings, monitor=False):
    """What removing the broker exporter deletes: its objects' kinds and names,
    and with ``monitor`` its ServiceMonitor; nothing rendered (the broker URL
    may no longer name a Redis by then)."""
    name = '%s-broker-exporter' % settings['app_name']
    kinds = [('apps/v1', 'Deployment'), ('v1', 'Service'), ('networking.k8s.io/v1', 'NetworkPolicy')]
    if monitor:
        kinds.append(('monitoring.coreos.com/v1', 'ServiceMonitor'))
    return [{'apiVersion': api, 'kind': kind, 'metadata': {'name': name, 'namespace': settings['namespace']}}
            for api, kind in kinds]


def _monitoring_metadata(settings, name, component):
    """Metadata of a PrometheusRule or ServiceMonitor: the labels a Prometheus
    selects its rules and monitors by (``prometheus_labels``) beside ours."""
    meta = metadata(settings, name, component)
    meta['labels'].update(dict((str(key), str(value))
                               for key, value in (settings.get('prometheus_labels') or {}).items()))
    return meta


def monitoring_manifests(settings, component, options, scrape=None):
    """prometheus-operator objects of one role: a PrometheusRule <app>-<component>
    holding the same rule group as its rules file (``options``: the rules'
    options, as for celery_prometheus_files), and with ``scrape`` ({port,
    url_prefix, auth_secret, component}) a ServiceMonitor of the Service of
    ``component`` (this one, or the workers' broker-exporter) at its metrics
    path, its basic auth from ``auth_secret`` (keys username and password)
    when set."""
    name = '%s-%s' % (settings['app_name'], component)
    rules = rules_for(component, dict(options, app=settings['app_name']))
    docs = [{'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'PrometheusRule',
             'metadata': _monitoring_metadata(settings, name, component),
             'spec': {'groups': list(rules['groups'])}}]
    if scrape:
        # Flower's own Service, or the broker exporter's beside the workers.
        scraped = scrape.get('component') or component
        endpoint = {'port': scrape['port'], 'path': flower_metrics_path(scrape.get('url_prefix')), 'scheme': 'http'}
        if scrape.get('auth_secret'):
            endpoint['basicAuth'] = dict(
                (key, {'name': scrape['auth_secret'], 'key': key}) for key in ('username', 'password'))
        docs.append({'apiVersion': 'monitoring.coreos.com/v1', 'kind': 'ServiceMonitor',
                     'metadata': _monitoring_metadata(settings, '%s-%s' % (settings['app_name'], scraped), scraped),
                     'spec': {'selector': {'matchLabels': selector(settings, scraped)},
                              'targetLabels': sorted(target_labels(settings['app_name'], SCRAPED_AS.get(scraped, scraped))),
                              'endpoints': [endpoint]}})
    return docs


def _scripts(probe_source, launcher_source):
    data = {'probe.py': probe_source}
    if launcher_source:
        data['launcher.py'] = launcher_source
    return data


def config_manifests(settings, config, probe_source, launcher_source=''):
    """The ConfigMaps: non-secret settings, and the probe and launcher scripts."""
    return [
        {'apiVersion': 'v1', 'kind': 'ConfigMap', 'metadata': metadata(settings, settings['config_name'], 'config'),
         'data': dict((str(key), str(value)) for key, value in config.items())},
        {'apiVersion': 'v1', 'kind': 'ConfigMap',
         'metadata': metadata(settings, settings['probe_config_name'], 'config'),
         'data': _scripts(probe_source, launcher_source)},
    ]


def secret_manifest(settings, name, data, component='config'):
    """A Secret from variables (stringData); only rendered when the user keeps none of their own."""
    return {'apiVersion': 'v1', 'kind': 'Secret', 'type': 'Opaque', 'metadata': metadata(settings, name, component),
            'stringData': dict((str(key), str(value)) for key, value in data.items())}


def manifests(settings, component, **kwargs):
    """The Kubernetes objects of one role: ``config``, ``secret``, ``worker``, ``worker_env`` (the groups'
    Secrets), ``beat``, ``cron``, ``flower``, ``broker_exporter`` (its ``exporter``: see
    exporter_manifests; with ``remove`` what removing it deletes, exporter_objects) or ``monitoring`` (``of`` a component, its rules'
    ``options`` and ``scrape``: see monitoring_manifests)."""
    if component == 'config':
        docs = config_manifests(settings, kwargs.get('config') or {}, kwargs.get('probe_source', ''),
                                kwargs.get('launcher_source', ''))
        if kwargs.get('namespace'):
            docs.insert(0, {'apiVersion': 'v1', 'kind': 'Namespace',
                            'metadata': {'name': settings['namespace'], 'labels': labels(settings, 'config')}})
        return docs
    if component == 'secret':
        return [secret_manifest(settings, kwargs['name'], kwargs.get('data') or {}, kwargs.get('owner', 'config'))]
    if component == 'worker':
        return worker_manifests(kwargs['groups'], settings)
    if component == 'worker_env':
        return worker_secret_manifests(kwargs['groups'], settings)
    if component == 'beat':
        return beat_manifests(kwargs['argv'], settings, kwargs.get('stop_timeout', 60), kwargs.get('replicas', 1),
                              kwargs.get('env_secret', ''), kwargs.get('state'), kwargs.get('env_checksum', ''))
    if component == 'cron':
        return cron_manifests(kwargs.get('cronjobs') or [], settings, kwargs['app_module'])
    if component == 'broker_exporter':
        if kwargs.get('remove'):
            return exporter_objects(settings, kwargs.get('monitor', False))
        return exporter_manifests(settings, kwargs['exporter'])
    if component == 'monitoring':
        return monitoring_manifests(settings, kwargs['of'], kwargs.get('options') or {}, kwargs.get('scrape'))
    if component == 'flower':
        return flower_manifests(kwargs['argv'], settings, kwargs.get('url_prefix', ''), kwargs.get('auth_secret', ''),
                                kwargs.get('auth_checksum', ''), kwargs.get('state'))
    raise ValueError('unknown Kubernetes component %r' % (component,))
