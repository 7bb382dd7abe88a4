# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Beat's scheduler: whether it takes a lock, and the settings a locking one needs.

Beat is a singleton unless its scheduler takes a lock: then any number of
beats may run, one holds the lock and schedules, the others wait for it.
RedBeat holds a lock in Redis that the holder renews on every pass of its
loop and that expires ``lock_timeout`` seconds after the last renewal; a
waiting beat asks for it every ``max_interval`` seconds. So when the holder
dies, another beat schedules within ``lock_timeout + max_interval``: the
takeover bound the roles size and document.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
    broker_endpoint, broker_settings, layer_settings, settings_env)

# RedBeat's scheduler under the names Celery accepts for it.
REDBEAT = ('redbeat.RedBeatScheduler', 'redbeat.schedulers.RedBeatScheduler', 'redbeat.schedulers:RedBeatScheduler',
           'redbeat:RedBeatScheduler')
# Schedulers whose state is the schedule file (celery_beat_k8s_state keeps it).
FILE_SCHEDULERS = ('', 'celery.beat:PersistentScheduler', 'celery.beat.PersistentScheduler')
K8S_STATES = ('ephemeral', 'statefulset', 'claim')
# Kubernetes names: a CronJob's is at most 52 characters (its Jobs add 11).
DNS_LABEL_RE = re.compile(r'^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')
CRON_FIELD_RE = re.compile(r'^[0-9A-Za-z*/,?LW#-]+$')
CRON_MACROS = ('@yearly', '@annually', '@monthly', '@weekly', '@daily', '@midnight', '@hourly')
CRON_KEYS = ('name', 'task', 'schedule', 'args', 'kwargs', 'queue', 'expires_s', 'time_zone',
             'starting_deadline_s', 'active_deadline_s')
# A beat renews its lock at least this many times per lock timeout.
RENEWALS_PER_LOCK = 3


def is_redbeat(scheduler):
    return (scheduler or '').strip() in REDBEAT


def resolve_beat(options):
    """``_resolve`` (below), and on Kubernetes (``platform``) where the
    schedule file lives (``k8s_state``, see k8s_state: options ``k8s_state``,
    ``k8s_state_claim``, ``k8s_state_size``, ``k8s_storage_class``) and the
    errors of ``cronjobs`` (periodic tasks as CronJobs; ``app_name``)."""
    result = _resolve(options)
    result['errors'] = result['errors'] + alert_task_errors(options.get('alert_tasks') or [])
    if options.get('platform') != 'kubernetes':
        return result
    replicas = 2 if (result['locking'] and options.get('allow_multiple')) else 1
    state = k8s_state({'kind': options.get('k8s_state'), 'claim': options.get('k8s_state_claim'),
                       'size': options.get('k8s_state_size'), 'storage_class': options.get('k8s_storage_class'),
                       'scheduler': options.get('scheduler'), 'replicas': replicas})
    result.update(k8s_state=state['state'], replicas=replicas)
    cronjobs = options.get('cronjobs') or []
    result['errors'] = result['errors'] + (cronjob_errors(cronjobs, options.get('app_name') or '') if cronjobs
                                           else state['errors'])
    return result


def _resolve(options):
    """What beat runs with: ``errors``, ``locking``, ``max_interval`` (for
    ``--max-interval``, 0 for Celery's), ``takeover_s`` (None unless
    locking), ``settings`` (Celery settings for beat: the broker's, then
    RedBeat's) and ``environment`` (what carries them to beat's process).

    ``options``: ``scheduler``, ``max_interval``, ``allow_multiple``,
    ``lock_timeout``,
    ``redis_url`` (RedBeat's; empty: the broker's), ``broker_url``,
    ``queue_type``.
    """
    scheduler = options.get('scheduler') or ''
    max_interval = int(options.get('max_interval') or 0)
    redbeat = is_redbeat(scheduler)
    settings = broker_settings(options.get('queue_type'))
    result = {'errors': [], 'locking': redbeat, 'max_interval': max_interval, 'takeover_s': None,
              'settings': settings, 'environment': settings_env(settings)}
    if options.get('allow_multiple') and not redbeat:
        result['errors'].append(
            'celery_beat_allow_multiple is true, but celery_beat_scheduler %r takes no lock: every beat would send'
            ' each periodic task. Use redbeat.RedBeatScheduler (celery-redbeat in celery_python_packages), whose'
            ' beats wait for one lock, or run beat on one host.' % (scheduler or "(Celery's default)"))
    if not redbeat:
        return result
    lock_timeout = int(options.get('lock_timeout') or 0)
    if lock_timeout < 2 * RENEWALS_PER_LOCK:
        result['errors'].append('celery_beat_lock_timeout_s must be %d s or more (the lock is renewed %d times within'
                                ' it); got %r' % (2 * RENEWALS_PER_LOCK, RENEWALS_PER_LOCK,
                                                  options.get('lock_timeout')))
        return result
    # The holder renews the lock once per loop: a loop longer than a third of
    # the lock's life would let it lapse while the holder is healthy.
    longest = lock_timeout // RENEWALS_PER_LOCK
    if max_interval > longest:
        result['errors'].append(
            'celery_beat_max_interval_s (%d s) is longer than a third of celery_beat_lock_timeout_s (%d s): RedBeat'
            ' renews its lock once per loop, so the lock would lapse between renewals and a second beat take'
            ' over while the first still runs. Set celery_beat_max_interval_s to %d or less, or raise the lock'
            ' timeout.' % (max_interval, lock_timeout, longest))
        return result
    max_interval = max_interval or longest
    redis_url = options.get('redis_url') or ''
    if not redis_url and broker_endpoint(options.get('broker_url') or '')['type'] != 'redis':
        result['errors'].append(
            'celery_beat_scheduler is RedBeat, which keeps its schedule and lock in Redis, but celery_broker_url is'
            ' not a Redis URL: set celery_beat_redbeat_redis_url (a redis:// URL, secret).')
        return result
    redbeat_settings = {'redbeat_lock_timeout': lock_timeout}
    if redis_url:
        redbeat_settings['redbeat_redis_url'] = redis_url
    settings = layer_settings(settings, redbeat_settings)
    result.update(max_interval=max_interval, takeover_s=lock_timeout + max_interval, settings=settings,
                  environment=settings_env(settings))
    return result


def k8s_state(options):
    """Where beat's schedule file lives on Kubernetes, and the errors of that choice.

    ``options``: ``kind`` (celery_beat_k8s_state), ``claim``, ``size``,
    ``storage_class``, ``scheduler``, ``replicas``.
    """
    kind = options.get('kind') or 'ephemeral'
    state = {'kind': kind, 'claim': options.get('claim') or '', 'size': options.get('size') or '64Mi',
             'storage_class': options.get('storage_class') or ''}
    errors = []
    if kind not in K8S_STATES:
        errors.append('celery_beat_k8s_state must be one of %s, got %r' % (', '.join(K8S_STATES), kind))
    elif kind != 'ephemeral':
        scheduler = (options.get('scheduler') or '').strip()
        if scheduler not in FILE_SCHEDULERS:
            errors.append('celery_beat_k8s_state is %s, which keeps the schedule file of Celery\'s default'
                          ' scheduler, but celery_beat_scheduler %r keeps its state elsewhere (Redis, a'
                          ' database): leave celery_beat_k8s_state at ephemeral' % (kind, scheduler))
        if int(options.get('replicas') or 1) > 1:
            errors.append('celery_beat_k8s_state is %s (one ReadWriteOnce volume), but beat runs %d replicas'
                          % (kind, int(options['replicas'])))
    if kind == 'claim' and not DNS_LABEL_RE.match(state['claim']):
        errors.append('celery_beat_k8s_state is claim: celery_beat_k8s_state_claim must name your'
                      ' PersistentVolumeClaim (a DNS label), got %r' % state['claim'])
    if kind == 'statefulset' and not re.match(r'^[0-9]+(\.[0-9]+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$', state['size']):
        errors.append('celery_beat_k8s_state_size (deprecated; celery_beat_k8s_state_size_mb) must be a Kubernetes'
                      ' quantity such as 64Mi, got %r' % state['size'])
    return {'state': state, 'errors': errors}


def _cron_schedule_ok(schedule):
    schedule = str(schedule or '').strip()
    if schedule in CRON_MACROS:
        return True
    fields = schedule.split()
    return len(fields) == 5 and all(CRON_FIELD_RE.match(field) for field in fields)


def cronjob_errors(cronjobs, app_name):
    """What is wrong with celery_beat_k8s_cronjobs (each message names the entry)."""
    errors = []
    if not isinstance(cronjobs, list):
        return ['celery_beat_k8s_cronjobs must be a list of periodic tasks, got %s' % type(cronjobs).__name__]
    seen = set()
    for index, job in enumerate(cronjobs):
        where = 'celery_beat_k8s_cronjobs[%d]' % index
        if not isinstance(job, dict):
            errors.append('%s must be a mapping (name, task, schedule, ...)' % where)
            continue
        name = str(job.get('name') or '')
        where = '%s (%s)' % (where, name) if name else where
        unknown = sorted(set(job) - set(CRON_KEYS))
        if unknown:
            errors.append('%s: unknown keys %s (known: %s)' % (where, ', '.join(unknown), ', '.join(CRON_KEYS)))
        full = '%s-cron-%s' % (app_name, name)
        if not DNS_LABEL_RE.match(name) or len(full) > 52:
            errors.append('%s: name must be a DNS label and %s-cron-<name> at most 52 characters (a CronJob'
                          ' name), got %r' % (where, app_name, name))
        if name in seen:
            errors.append('%s: name %r is used twice' % (where, name))
        seen.add(name)
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_.:]*$', str(job.get('task') or '')):
            errors.append('%s: task must be the registered task name, such as shop.tasks.cleanup' % where)
        if not _cron_schedule_ok(job.get('schedule')):
            errors.append('%s: schedule must be five cron fields (minute hour day month weekday) or a macro'
                          ' such as @hourly, got %r' % (where, job.get('schedule')))
        if not isinstance(job.get('args', []), list):
            errors.append('%s: args must be a list' % where)
        if not isinstance(job.get('kwargs', {}), dict):
            errors.append('%s: kwargs must be a mapping' % where)
        for key in ('expires_s', 'starting_deadline_s', 'active_deadline_s'):
            value = job.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                errors.append('%s: %s must be a whole number of seconds, 1 or more' % (where, key))
        if job.get('queue') is not None and not re.match(r'^[A-Za-z0-9_.:-]+$', str(job.get('queue'))):
            errors.append('%s: queue must be a queue name' % where)
    return errors


def alert_task_errors(tasks):
    """What is wrong with celery_beat_alert_tasks (each {task, every_s})."""
    errors = []
    if not isinstance(tasks, list):
        return ['celery_beat_alert_tasks must be a list of {task, every_s}']
    for index, item in enumerate(tasks):
        where = 'celery_beat_alert_tasks[%d]' % index
        if not isinstance(item, dict) or sorted(item) != ['every_s', 'task']:
            errors.append('%s must have exactly the keys task and every_s' % where)
            continue
        if not re.match(r'^[A-Za-z_][A-Za-z0-9_.:]*$', str(item['task'])):
            errors.append('%s: task must be the registered task name, such as shop.tasks.cleanup' % where)
        every = item['every_s']
        if isinstance(every, bool) or not isinstance(every, int) or every < 1:
            errors.append('%s: every_s must be the task\'s interval in whole seconds, 1 or more' % where)
    return errors
