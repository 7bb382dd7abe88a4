# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Prometheus recording and alert rules for one Celery app.

Each role renders the rules of what it deploys, one group per role, so a
Prometheus that loads ``*.rules.yml`` gets them all:

- workers: the live workers per group (those Flower lists as online), the length of each queue (from the broker's exporter),
  and the alerts on them: a group with fewer live workers than the inventory
  deploys, a group's queues holding more than the plan's per-worker
  threshold times its live workers for a while, a failure ratio above the
  inventory's;
- beat: a periodic task the inventory names that no worker received for
  ``k`` of its intervals;
- flower: Flower (the source of the worker metrics) not scraped.

Live workers are the ``flower_worker_online`` series at 1. A worker that
stops cleanly sends worker-offline (Flower sets 0); one that dies or hangs
sends nothing, and its series stays at 1 until Flower forgets it:
``--purge_offline_workers`` seconds after its heartbeats stopped (Flower
drops an offline worker's metrics on the next scrape), which is why the
roles' default for celery_flower_purge_offline_workers_s is 60 and the alert
needs it set. Flower does not count heartbeats in ``flower_events_total``.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The target labels every scrape of the app's Flower and broker exporter
# carries (the scrape configuration sets them, whatever the job is called):
# the rules select by them.
APP_LABEL = 'celeryops_app'
COMPONENT_LABEL = 'celeryops_component'
# Worker node names: <group>@<host> (Compose, Kubernetes) or <group><n>@<host> (systemd).
WORKER_NAME_RE = '%s[0-9]*@.+'


def target_labels(app, component):
    """The labels the scrape configuration gives the targets of ``component`` (flower, broker)."""
    return {APP_LABEL: app, COMPONENT_LABEL: component}


def _selector(app, component):
    return '%s=%s, %s=%s' % (APP_LABEL, _quote(app), COMPONENT_LABEL, _quote(component))


def _quote(value):
    return '"%s"' % str(value).replace('\\', '\\\\').replace('"', '\\"')


def _alternation(names):
    return '|'.join(re.escape(str(name)) for name in names)


def _duration(seconds):
    seconds = int(seconds)
    if seconds % 3600 == 0:
        return '%dh' % (seconds // 3600)
    if seconds % 60 == 0:
        return '%dm' % (seconds // 60)
    return '%ds' % seconds


def _while_flower_scraped(flower):
    """The condition on alerts that count what Flower serves: with Flower
    down its series go stale (every group would count 0 workers, no task
    would be seen); CeleryFlowerDown names that cause alone."""
    return ' and on() max(up{%s}) == 1' % flower


def queue_length_rule(app, queues, broker):
    """``celeryops:queue_length`` per queue, from the broker exporter's metric.

    Redis (prometheus-redis-exporter with --check-single-keys): ``redis_key_size``
    of the queue's list in the broker's database. RabbitMQ (its prometheus
    plugin, per-object metrics): ``rabbitmq_queue_messages_ready`` in its vhost.
    """
    selector = _selector(app, 'broker')
    names = _alternation(sorted(queues))
    if broker.get('type') == 'rabbitmq':
        expr = 'sum by (queue) (rabbitmq_queue_messages_ready{%s, vhost=%s, queue=~"%s"})' % (
            selector, _quote(broker.get('vhost', '/')), names)
    else:
        expr = ('label_replace(max by (key) (redis_key_size{%s, db="db%d", key=~"%s"}),'
                ' "queue", "$1", "key", "(.*)")' % (selector, int(broker.get('db', 0)), names))
    return {'record': 'celeryops:queue_length', 'expr': expr, 'labels': {'app': app}}


def worker_rules(app, groups, broker, options=None):
    """The workers' group: recording rules and alerts.

    ``groups``: resolved worker groups (name, queues, instances, and the
    plan's ``autoscale_queue_length``: tasks one worker clears within the
    wait target) with ``expected``, the workers the inventory deploys in all
    (instances times hosts, or an autoscaler's minimum).
    ``options``: ``backlog_for_s`` (600), ``failure_ratio`` (0.05),
    ``failure_for_s`` (600), ``down_for_s`` (60).
    """
    options = options or {}
    flower = _selector(app, 'flower')
    rules = []
    queues = sorted(set(queue for group in groups for queue in group['queues']))
    if queues:
        rules.append(queue_length_rule(app, queues, broker))
    for group in groups:
        rules.append({
            'record': 'celeryops:group_workers',
            'expr': ('count(flower_worker_online{%s, worker=~"%s"} == 1) or vector(0)'
                     % (flower, WORKER_NAME_RE % re.escape(group['name']))),
            'labels': {'app': app, 'group': group['name']},
        })
    down_for = _duration(options.get('down_for_s', 60))
    for group in groups:
        expected = int(group.get('expected') or group.get('instances') or 1)
        rules.append({
            'alert': 'CeleryWorkerDown',
            'expr': 'celeryops:group_workers{app=%s, group=%s} < %d' % (
                _quote(app), _quote(group['name']), expected) + _while_flower_scraped(flower),
            'for': down_for,
            'labels': {'severity': 'critical', 'app': app, 'group': group['name']},
            'annotations': {
                'summary': 'Celery %s: worker group %s has {{ $value }} live workers of %d' % (
                    app, group['name'], expected),
                'description': ('Flower lists fewer workers of group %s (queues %s) online than it deploys: one'
                                ' stopped, or sent no heartbeat for celery_flower_purge_offline_workers_s seconds.'
                                ' Run the celeryops.deploy.status playbook: it shows which instance is down and'
                                ' its last error lines.' % (group['name'], ', '.join(group['queues']))),
            },
        })
    backlog_for = _duration(options.get('backlog_for_s', 600))
    for group in groups:
        per_worker = int(group.get('autoscale_queue_length') or 0)
        if per_worker < 1 or not group['queues']:
            continue
        rules.append({
            'alert': 'CeleryQueueBacklog',
            'expr': ('sum(celeryops:queue_length{app=%s, queue=~"%s"}) > on() %d * clamp_min(celeryops:group_workers'
                     '{app=%s, group=%s}, 1)' % (_quote(app), _alternation(group['queues']), per_worker,
                                                 _quote(app), _quote(group['name']))),
            'for': backlog_for,
            'labels': {'severity': 'warning', 'app': app, 'group': group['name']},
            'annotations': {
                'summary': 'Celery %s: queues %s hold more than %d tasks per live worker of group %s' % (
                    app, ', '.join(group['queues']), per_worker, group['name']),
                'description': ('{{ $value }} tasks wait in %s, more than the plan says %d live workers of group'
                                ' %s clear within their wait target, for %s. Add instances, or look for stuck'
                                ' workers (celeryops.deploy.status).' % (
                                    ', '.join(group['queues']), per_worker, group['name'], backlog_for)),
            },
        })
    ratio = float(options.get('failure_ratio', 0.05))
    rules.append({
        'alert': 'CeleryTaskFailureRatio',
        'expr': ('sum(rate(flower_events_total{%s, type="task-failed"}[10m])) / sum(rate(flower_events_total'
                 '{%s, type=~"task-succeeded|task-failed"}[10m])) > %s' % (flower, flower, _number(ratio))),
        'for': _duration(options.get('failure_for_s', 600)),
        'labels': {'severity': 'warning', 'app': app},
        'annotations': {
            'summary': 'Celery %s: {{ $value | humanizePercentage }} of tasks fail' % app,
            'description': 'More than %s of the tasks that ended in the last 10 minutes failed.' % (
                '%g%%' % (ratio * 100)),
        },
    })
    return {'name': 'celery-%s-workers' % app, 'rules': rules}


def _number(value):
    return ('%.6f' % value).rstrip('0').rstrip('.')


# The shortest window of the beat alert by default (celery_beat_alert_min_window_s):
# increase() needs several scrapes in it (one a minute is Prometheus's
# default), or a healthy task looks silent.
MIN_BEAT_WINDOW_S = 300


def beat_rules(app, tasks, missed=3, min_window_s=MIN_BEAT_WINDOW_S):
    """The beat group: a named periodic task no worker received for ``missed``
    intervals (or ``min_window_s``, whichever is longer).

    ``tasks``: [{task, every_s}] (celery_beat_alert_tasks). Before the first
    window after Prometheus starts it would fire; ``for`` holds it that long,
    so a fresh deploy does not page.
    """
    flower = _selector(app, 'flower')
    rules = []
    for item in tasks:
        window = _duration(max(int(item['every_s']) * int(missed), int(min_window_s)))
        rules.append({
            'alert': 'CeleryBeatNotFiring',
            'expr': ('(sum(increase(flower_events_total{%s, type="task-received", task=%s}[%s])) or vector(0))'
                     ' < 1' % (flower, _quote(item['task']), window) + _while_flower_scraped(flower)),
            'for': window,
            'labels': {'severity': 'critical', 'app': app, 'task': str(item['task'])},
            'annotations': {
                'summary': 'Celery %s: periodic task %s did not run for %s' % (app, item['task'], window),
                'description': ('No worker received %s for %d of its %d s intervals: beat is down, holds no lock,'
                                ' or its schedule lost the task (celeryops.deploy.status shows beat\'s last run).'
                                % (item['task'], int(missed), int(item['every_s']))),
            },
        })
    return {'name': 'celery-%s-beat' % app, 'rules': rules}


def flower_rules(app, down_for_s=120):
    """The flower group: Flower not scraped (then the worker alerts go blind)."""
    flower = _selector(app, 'flower')
    return {'name': 'celery-%s-flower' % app, 'rules': [{
        'alert': 'CeleryFlowerDown',
        'expr': 'up{%s} == 0 or absent(up{%s})' % (flower, flower),
        'for': _duration(down_for_s),
        'labels': {'severity': 'critical', 'app': app},
        'annotations': {
            'summary': 'Celery %s: Prometheus cannot scrape Flower' % app,
            'description': ('Flower is down or refuses the scrape (check its credentials file); the worker alerts'
                            ' of %s see nothing until it is back.' % app),
        },
    }]}


def rules_file(group):
    """A Prometheus rules file body holding one group."""
    return {'groups': [group]}


def files_for(component, options):
    """What one role writes into celery_prometheus_dir: {file name: body}.

    Every role: its rules (celery-<app>-<component>.rules.yml). Flower on a
    host (systemd, Compose) also its scrape targets
    (celery-<app>-flower.targets.yml, for a file_sd job); on Kubernetes the
    cluster's Prometheus finds Flower's Service itself. The workers, with
    ``exporter`` ({name, address, port, host}: the broker exporter a worker
    host runs, or an all-in-one RabbitMQ's plugin: ``metrics_path``), its
    targets, one file per host
    (celery-<app>-broker-<name>.targets.yml).
    """
    app = options['app']
    files = {'celery-%s-%s.rules.yml' % (app, component): rules_for(component, options)}
    exporter = options.get('exporter')
    if component == 'worker' and exporter:
        files['celery-%s-broker-%s.targets.yml' % (app, exporter['name'])] = targets(
            app, 'broker', exporter.get('address'), exporter['port'], exporter.get('metrics_path') or '/metrics',
            exporter.get('host', ''))
    if component == 'flower' and options.get('platform') != 'kubernetes':
        files['celery-%s-flower.targets.yml' % app] = flower_targets(
            app, options.get('address'), options.get('port', 5555), options.get('url_prefix', ''),
            options.get('host', ''))
    return files


def rules_for(component, options):
    """The rules file of one role (``worker``, ``beat`` or ``flower``) from the roles' options.

    ``options``: ``app``; worker: ``groups`` (resolved), ``hosts`` (hosts
    that run them: the expected workers are instances times hosts),
    ``broker_url``, ``failure_ratio``, ``backlog_for_s``, ``down_for_s``;
    beat: ``tasks``, ``missed``, ``min_window_s``; flower: ``down_for_s``.
    """
    from urllib.parse import unquote
    from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import broker_endpoint
    app = options['app']
    if component == 'worker':
        url = str(options.get('broker_url') or '').split(';', 1)[0]
        broker = broker_endpoint(url)
        if broker['type'] == 'rabbitmq':
            path = url.split('//', 1)[-1].split('/', 1)
            broker['vhost'] = unquote(path[1].split('?', 1)[0]) if len(path) > 1 and path[1] else '/'
        hosts = max(1, int(options.get('hosts') or 1))
        groups = [dict(group, expected=int(group.get('instances') or 1) * hosts) for group in options['groups']]
        group = worker_rules(app, groups, broker, {
            'failure_ratio': options.get('failure_ratio', 0.05),
            'backlog_for_s': options.get('backlog_for_s', 600),
            'down_for_s': options.get('down_for_s', 60)})
    elif component == 'beat':
        group = beat_rules(app, options.get('tasks') or [], options.get('missed', 3),
                           options.get('min_window_s', MIN_BEAT_WINDOW_S))
    elif component == 'flower':
        group = flower_rules(app, options.get('down_for_s', 120))
    else:
        raise ValueError('unknown rules component %r' % (component,))
    return rules_file(group)


def targets(app, component, address, port, metrics_path='/metrics', host=''):
    """Prometheus file_sd targets of one component of the app (flower,
    broker), with the labels the rules select by.

    ``address`` is where it listens; a wildcard one is scraped at ``host``
    (the inventory's address of the host), a loopback one only from that
    host, as it is.
    """
    address = str(address or '127.0.0.1')
    if address in ('0.0.0.0', '::', '[::]'):
        address = host or '127.0.0.1'
    if ':' in address and not address.startswith('['):
        address = '[%s]' % address
    labels = dict(target_labels(app, component), __metrics_path__=metrics_path)
    return [{'targets': ['%s:%d' % (address, int(port))], 'labels': labels}]


def flower_metrics_path(url_prefix=''):
    """Where Flower serves its metrics: under its URL prefix."""
    prefix = str(url_prefix or '').strip('/')
    return '/%s/metrics' % prefix if prefix else '/metrics'


def flower_targets(app, address, port, url_prefix='', host=''):
    """Flower's targets, at its metrics path."""
    return targets(app, 'flower', address, port, flower_metrics_path(url_prefix), host)
