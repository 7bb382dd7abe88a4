# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Worker groups: validation, defaults and the ``celery worker`` command line.

One source of truth for every platform: the systemd unit, the Compose
service and the Kubernetes container all take their arguments from
:func:`worker_argv`. Pure functions, no Ansible imports, unit-tested.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import math
import re

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
    broker_settings, layer_settings, quorum_conflicts, settings_env)
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_plan import (
    MEMORY_MAX_HEADROOM,
    instance_memory_mb,
    memory_limit_from_child_cap,
    systemd_cpu_quota,
)
from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_exec import launcher_exec_start

POOLS = ('prefork', 'threads', 'gevent', 'eventlet', 'solo')
# Only prefork recycles child processes; the other pools ignore these options
# silently, which would leave a user thinking memory is bounded when it is not.
PREFORK_ONLY = ('max_tasks_per_child', 'max_memory_per_child', 'autoscale')
POSITIVE_INTS = ('concurrency', 'instances', 'prefetch_multiplier', 'max_tasks_per_child',
                 'max_memory_per_child', 'time_limit', 'soft_time_limit', 'stop_timeout', 'start_timeout',
                 'memory_limit_mb',
                 'memory_request_mb', 'autoscale_queue_length', 'max_replicas', 'task_memory_mb')
CPU_NUMBERS = ('cpu_limit', 'cpu_request')
AUTOSCALERS = ('none', 'hpa', 'keda')
# The workload of a group: when `kind` is given, celery_worker_plan fills in
# what the group leaves out (pool, concurrency, instances, ...).
WORKLOAD_KEYS = ('kind', 'task_memory_mb', 'avg_duration_s', 'cpu_time_s', 'rate_per_s', 'max_wait_s', 'io_share')
# plan_summary/plan_reasons are added by apply_plan for the env file comment.
# cpu_limit (CPUs) and memory_limit_mb cap one instance/replica: container
# limits on Compose and Kubernetes; cpu_request/memory_request_mb are the
# Kubernetes requests; autoscaling/max_replicas/autoscale_queue_length size
# the HPA or KEDA ScaledObject.
KNOWN_KEYS = frozenset(('name', 'queues', 'pool') + POSITIVE_INTS + CPU_NUMBERS
                       + ('autoscale', 'environment', 'extra_args', 'autoscaling', 'settings', 'watchdog',
                          'k8s_pod')
                       + WORKLOAD_KEYS + ('plan_summary', 'plan_reasons'))
# Group keys the plan may fill in (celery_worker_plan returns them by the same names).
PLANNED_KEYS = ('pool', 'concurrency', 'instances', 'prefetch_multiplier', 'max_tasks_per_child',
                'max_memory_per_child', 'stop_timeout', 'cpu_limit', 'memory_limit_mb', 'cpu_request',
                'memory_request_mb', 'autoscale_queue_length')
# Group keys celery_worker_plan takes besides the workload.
PLAN_FIXED_KEYS = ('pool', 'concurrency', 'instances', 'time_limit', 'soft_time_limit')
# Group names end in a letter: the node name is <group><instance>@host, and a
# trailing digit would make 'q1' instance 1 and 'q' instance 11 collide.
GROUP_NAME_RE = re.compile(r'^[a-z]([a-z0-9-]{0,28}[a-z])?$')
QUEUE_RE = re.compile(r'^[A-Za-z0-9_.:@/-]+$')
ENV_NAME_RE = re.compile(r'^[A-Za-z_][A-Za-z0-9_]*$')
AUTOSCALE_RE = re.compile(r'^(\d+),(\d+)$')
SETTING_RE = re.compile(r'^[a-z][a-z0-9_]*$')
# Celery settings (`settings`, celery_worker_settings) travel in a plain
# environment variable: connection strings, which hold passwords, must come
# from celery_broker_url / celery_result_backend (kept secret) instead.
SECRET_SETTINGS = ('broker_url', 'broker_read_url', 'broker_write_url', 'result_backend',
                   'cache_backend', 'database_url', 'mongodb_backend_settings', 'redis_password')
# Settings a group key already sets on the command line, which wins over
# app configuration: setting both would silently ignore the setting.
ARGV_SETTINGS = {'worker_concurrency': 'concurrency', 'worker_pool': 'pool',
                 'worker_prefetch_multiplier': 'prefetch_multiplier',
                 'worker_max_tasks_per_child': 'max_tasks_per_child',
                 'worker_max_memory_per_child': 'max_memory_per_child',
                 'task_time_limit': 'time_limit', 'task_soft_time_limit': 'soft_time_limit'}
# The environment variable the launcher (celeryops-celery.py) reads them from.
# Arguments that would break supervision by systemd/Compose/Kubernetes or
# that the roles set themselves.
FORBIDDEN_ARGS = ('--detach', '-D', '--hostname', '-n', '--pidfile', '--logfile', '-f',
                  '--queues', '-Q', '--pool', '-P')

# Group keys renamed to the naming scheme (docs/naming.md): (public name, the
# name the code works in, the factor from the public unit to the internal
# one). The code keeps Celery's and the plan's names; a group is read in the
# public names at the door (public_groups) and its errors speak them
# (public_errors). The old names still work, with a deprecation warning,
# until 0.4.0: max_memory_per_child then in KiB, Celery's unit.
GROUP_RENAMES = (
    ('time_limit_s', 'time_limit', 1),
    ('soft_time_limit_s', 'soft_time_limit', 1),
    ('stop_timeout_s', 'stop_timeout', 1),
    ('start_timeout_s', 'start_timeout', 1),
    ('watchdog_s', 'watchdog', 1),
    ('max_memory_per_child_mb', 'max_memory_per_child', 1024),
    ('pool_autoscale', 'autoscale', 1),
    ('k8s_autoscaling', 'autoscaling', 1),
    ('backlog_per_worker', 'autoscale_queue_length', 1),
)
GROUP_REMOVED_IN = '0.4.0'
_INTERNAL_TO_PUBLIC = dict((rename[1], rename[0]) for rename in GROUP_RENAMES)
_KEY_IN_MESSAGE = re.compile(r'(celery_worker_groups\[\d+\](?: \([^)]*\))?\.|both |below |key \'|with )(%s)(?![\w])'
                             % '|'.join(sorted(_INTERNAL_TO_PUBLIC, key=len, reverse=True)))


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _group_errors(index, group):
    where = 'celery_worker_groups[%d]' % index
    if not isinstance(group, dict):
        return ['%s must be a dict with at least name and queues' % where]
    errors = []
    name = group.get('name')
    if not isinstance(name, str) or not GROUP_NAME_RE.match(name):
        errors.append("%s.name must be 1-30 lowercase letters, digits or '-', start and end with a letter"
                      " (it is part of unit and node names); got %r" % (where, name))
    else:
        where = 'celery_worker_groups[%d] (%s)' % (index, name)
    unknown = sorted(set(group) - KNOWN_KEYS)
    if unknown:
        known = sorted(_INTERNAL_TO_PUBLIC.get(key, key) for key in KNOWN_KEYS - set(('plan_summary', 'plan_reasons')))
        errors.append('%s has unknown keys: %s (known: %s)' % (where, ', '.join(unknown), ', '.join(known)))
    queues = group.get('queues')
    if not isinstance(queues, list) or not queues:
        errors.append('%s.queues must be a non-empty list of queue names; got %r' % (where, queues))
    else:
        for queue in queues:
            if not isinstance(queue, str) or not QUEUE_RE.match(queue):
                errors.append('%s.queues has an invalid queue name %r (letters, digits and _.:@/- only)' % (where, queue))
    pool = group.get('pool', 'prefork')
    if pool not in POOLS:
        errors.append('%s.pool must be one of %s; got %r' % (where, ', '.join(POOLS), pool))
    for key in POSITIVE_INTS:
        if key in group and group[key] is not None:
            value = group[key]
            if not _is_int(value) or value < 1:
                errors.append('%s.%s must be a whole number of 1 or more; got %r' % (where, key, value))
    for key in CPU_NUMBERS:
        cpus = group.get(key)
        if cpus is not None and (isinstance(cpus, bool) or not isinstance(cpus, (int, float))
                                 or not cpus > 0 or cpus == float('inf')):
            errors.append('%s.%s must be a number of CPUs above 0 (e.g. 1.5); got %r' % (where, key, cpus))
    for request, limit in (('cpu_request', 'cpu_limit'), ('memory_request_mb', 'memory_limit_mb')):
        low, high = group.get(request), group.get(limit)
        if isinstance(low, (int, float)) and isinstance(high, (int, float)) and low > high:
            errors.append('%s.%s (%s) must not be above %s (%s)' % (where, request, low, limit, high))
    if group.get('autoscaling') is not None and group['autoscaling'] not in AUTOSCALERS:
        errors.append('%s.autoscaling must be one of %s; got %r' % (where, ', '.join(AUTOSCALERS), group['autoscaling']))
    for key in PREFORK_ONLY:
        if group.get(key) is not None and pool != 'prefork':
            errors.append('%s.%s only works with the prefork pool (pool is %s): Celery would ignore it'
                          % (where, key, pool))
    if pool == 'solo' and _is_int(group.get('concurrency')) and group['concurrency'] != 1:
        errors.append('%s.concurrency must be 1 (or left out) for the solo pool; got %r' % (where, group['concurrency']))
    autoscale = group.get('autoscale')
    if autoscale is not None:
        match = AUTOSCALE_RE.match(str(autoscale))
        if not match or int(match.group(1)) < 1 or int(match.group(1)) < int(match.group(2)):
            errors.append("%s.autoscale must be 'max,min' with max >= min and max >= 1; got %r" % (where, autoscale))
        if group.get('concurrency') is not None:
            errors.append('%s sets both autoscale and concurrency; set one' % where)
    watchdog = group.get('watchdog')
    if watchdog is not None and (not _is_int(watchdog) or watchdog < 0):
        errors.append('%s.watchdog must be a whole number of seconds, 0 to turn it off; got %r' % (where, watchdog))
    soft, hard = group.get('soft_time_limit'), group.get('time_limit')
    if _is_int(soft) and _is_int(hard) and soft >= hard:
        errors.append('%s.soft_time_limit (%d) must be below time_limit (%d)' % (where, soft, hard))
    environment = group.get('environment', {})
    if not isinstance(environment, dict):
        errors.append('%s.environment must be a dict; got %r' % (where, type(environment).__name__))
    else:
        for key in environment:
            if not isinstance(key, str) or not ENV_NAME_RE.match(key):
                errors.append('%s.environment has an invalid variable name %r' % (where, key))
    errors.extend(settings_errors(group.get('settings', {}), '%s.settings' % where))
    extra = group.get('extra_args', [])
    if not isinstance(extra, list) or not all(isinstance(arg, str) for arg in extra):
        errors.append('%s.extra_args must be a list of strings' % where)
    else:
        errors.extend('%s.extra_args must not contain %s (the role sets it or it breaks supervision)' % (where, arg)
                      for arg in extra if arg.split('=', 1)[0] in FORBIDDEN_ARGS)
    return errors


def settings_errors(settings, where='celery_worker_settings'):
    """Problems with a dict of Celery settings laid over the app's configuration."""
    if settings is None:
        return []
    if not isinstance(settings, dict):
        return ['%s must be a dict of Celery settings (e.g. task_acks_late: true); got %r'
                % (where, type(settings).__name__)]
    errors = []
    for key in sorted(settings, key=str):
        if not isinstance(key, str) or not SETTING_RE.match(key):
            errors.append('%s has an invalid Celery setting name %r (lowercase, e.g. task_acks_late)' % (where, key))
        elif key in SECRET_SETTINGS or key.endswith('_password'):
            errors.append('%s must not set %s: connection strings and passwords come from celery_broker_url '
                          'and celery_result_backend, which are kept secret' % (where, key))
        elif key in ARGV_SETTINGS:
            errors.append('%s must not set %s: use the worker group key %r (the command line would win)'
                          % (where, key, ARGV_SETTINGS[key]))
    try:
        json.dumps(settings)
    except (TypeError, ValueError) as error:
        errors.append('%s must hold plain values (strings, numbers, booleans, lists, dicts): %s' % (where, error))
    if settings.get('task_reject_on_worker_lost') and settings.get('task_acks_late') is False:
        errors.append('%s: task_reject_on_worker_lost (celery_worker_reject_on_worker_lost) needs task_acks_late '
                      '(celery_worker_acks_late), which is false: only a message acknowledged late can be '
                      'requeued' % where)
    return errors


def group_errors(groups, settings=None):
    """Return a list of messages, one per problem, naming the variable; [] when valid.

    ``settings`` are the Celery settings for every group (the role's
    celery_worker_settings with acks_late/reject_on_worker_lost); each
    group's own ``settings`` go over them.
    """
    if not isinstance(groups, list) or not groups:
        return ['celery_worker_groups must be a non-empty list of worker groups']
    errors = settings_errors(settings)
    if errors:
        return errors
    seen = set()
    for index, group in enumerate(groups):
        group_problems = _group_errors(index, group)
        errors.extend(group_problems)
        if settings and not group_problems and isinstance(group.get('settings'), dict):
            errors.extend(settings_errors(group_settings(group, settings),
                                          'celery_worker_settings with celery_worker_groups[%d].settings' % index))
        name = group.get('name') if isinstance(group, dict) else None
        if name in seen:
            errors.append('celery_worker_groups[%d].name %r is used twice; group names must be unique' % (index, name))
        seen.add(name)
    return errors


def stop_timeout(group, default, margin):
    """Seconds to wait for a warm shutdown: explicit, else time limit + margin, else default."""
    if group.get('stop_timeout'):
        return group['stop_timeout']
    if group.get('time_limit'):
        return group['time_limit'] + margin
    return default


def group_settings(group, settings=None):
    """The Celery settings of one group: the shared ones, then the group's own
    (broker_transport_options merge key by key, as the broker's own do)."""
    return layer_settings(settings, group.get('settings'))


# Pools whose event loop runs the tasks themselves: a long task stops the
# loop's heartbeat, so their watchdog must outlast the task time limit.
LOOP_BLOCKING_POOLS = ('solo', 'gevent', 'eventlet')


def watchdog_seconds(group, default, margin):
    """systemd WatchdogSec= of a group (0 = none).

    The heartbeat proves the worker's event loop turns. prefork and threads
    run tasks beside the loop: ``default``. solo, gevent and eventlet run
    them in it: the time limit plus ``margin``, and none without a time
    limit (a task may legitimately hold the loop that long).
    """
    if group.get('watchdog') is not None:
        return group['watchdog']
    if group.get('pool', 'prefork') in LOOP_BLOCKING_POOLS:
        return group['time_limit'] + margin if group.get('time_limit') else 0
    return default


def launcher_command(python, launcher_path):
    """What runs a Celery command line: the launcher (settings, readiness, heartbeat)."""
    return [python, launcher_path]


def worker_argv(app_module, group, log_level='info'):
    """The ``celery`` arguments (after the executable) that run one worker of ``group``.

    Node name and log file are left to the platform (they hold systemd
    specifiers on systemd, the pod name on Kubernetes).
    """
    argv = ['-A', app_module, 'worker',
            '--loglevel=%s' % log_level.upper(),
            '--queues=%s' % ','.join(group['queues']),
            '--pool=%s' % group.get('pool', 'prefork')]
    optional = (
        ('concurrency', '--concurrency'),
        ('autoscale', '--autoscale'),
        ('prefetch_multiplier', '--prefetch-multiplier'),
        ('max_tasks_per_child', '--max-tasks-per-child'),
        ('max_memory_per_child', '--max-memory-per-child'),
        ('time_limit', '--time-limit'),
        ('soft_time_limit', '--soft-time-limit'),
    )
    for key, flag in optional:
        if group.get(key) is not None:
            argv.append('%s=%s' % (flag, group[key]))
    argv.extend(group.get('extra_args') or [])
    return argv


def normalize_groups(groups, app_module, log_level='info', default_stop_timeout=300,
                     stop_margin=30, extra_args=None, settings=None, start_timeout=90, watchdog=60):
    """Groups with every default filled in, plus ``argv`` and ``stop_timeout``.

    ``settings`` (Celery settings for every group) merge with each group's
    own into ``settings``; when there are any, they go into the group's
    environment as JSON for the launcher, and the platforms start the group
    through it (see celeryops-celery.py).
    """
    result = []
    for group in groups:
        item = dict(group)
        item.setdefault('pool', 'prefork')
        item['instances'] = item.get('instances') or 1
        item['environment'] = dict(item.get('environment') or {})
        item['settings'] = group_settings(group, settings)
        item['environment'].update(settings_env(item['settings']))
        item['extra_args'] = list(extra_args or []) + list(item.get('extra_args') or [])
        item['stop_timeout'] = stop_timeout(item, default_stop_timeout, stop_margin)
        item['start_timeout'] = item.get('start_timeout') or start_timeout
        item['watchdog'] = watchdog_seconds(item, watchdog, stop_margin)
        item['argv'] = worker_argv(app_module, item, log_level)
        if not item.get('memory_limit_mb'):
            item['memory_limit_mb'] = default_memory_limit_mb(item)
        if not item['memory_limit_mb']:
            item['memory_limit_warning'] = unlimited_warning(item['name'])
        result.append(item)
    return result


def default_memory_limit_mb(group):
    """The memory limit of one instance of a group that sets none and has no plan; None: no basis.

    A prefork group with concurrency and max_memory_per_child has one (see
    memory_limit_from_child_cap); a group that states its task_memory_mb and
    concurrency (solo: one task) the plan's memory model for its pool with
    the plan's headroom (instance_memory_mb x MEMORY_MAX_HEADROOM). For any
    other there is nothing to size it from, and normalize_groups() adds
    memory_limit_warning, which the role shows (and refuses on Kubernetes).
    """
    pool = group.get('pool', 'prefork')
    if pool == 'prefork' and group.get('concurrency') and group.get('max_memory_per_child'):
        return memory_limit_from_child_cap(group['concurrency'], group['max_memory_per_child'])
    if group.get('task_memory_mb') and (group.get('concurrency') or pool == 'solo'):
        expected = instance_memory_mb(pool, group.get('concurrency') or 1, group['task_memory_mb'])
        return int(math.ceil(expected * MEMORY_MAX_HEADROOM))
    return None


def unlimited_warning(name):
    """What the role warns about a group that runs without a memory limit."""
    return ('worker group %s runs without a memory limit (no MemoryMax=, no container memory limit): there is'
            ' nothing to size one from. Give it memory_limit_mb, task_memory_mb with concurrency, kind with'
            ' task_memory_mb and avg_duration_s (the plan sizes it), or (prefork) concurrency and'
            ' max_memory_per_child.' % name)


def instance_units(groups, app_name):
    """systemd instance unit names of every group: <app>-worker-<group>@<n>.service."""
    return ['%s-worker-%s@%d.service' % (app_name, group['name'], number)
            for group in groups
            for number in range(1, (group.get('instances') or 1) + 1)]


def instance_link(base_dir, group_name, number):
    """The release symlink an instance's ExecStart runs through."""
    return '%s/instances/worker-%s@%s' % (base_dir, group_name, number)


def _changed_files(file_results):
    """(paths, backups) of the template results that changed something."""
    paths, backups = [], {}
    for result in file_results or ():
        # In check mode a file that would change has no `dest` in the result.
        dest = result.get('dest')
        if not dest:
            args = (result.get('invocation') or {}) if isinstance(result.get('invocation'), dict) else {}
            dest = args.get('module_args', {}).get('dest') if isinstance(args.get('module_args'), dict) else None
        if result.get('changed') and dest:
            paths.append(dest)
            if result.get('backup_file'):
                backups[dest] = result['backup_file']
    return paths, backups


def unit_rollout(unit, link, install, file_results=(), timeout=600):
    """celery_systemd_rollout's ``instances`` and ``backups`` for one unit (beat, Flower).

    ``file_results``: the results of the template tasks that wrote its unit
    and env file; it restarts when one changed or ``install.restart_all``.
    """
    paths, backups = _changed_files(file_results)
    all_backups = dict(install.get('backups') or {})
    all_backups.update(backups)
    instance = {'unit': unit, 'link': link, 'target': install['venv'],
                'restart': any(result.get('changed') for result in file_results or ())
                or bool(install.get('restart_all')),
                'files': list(install.get('files') or []) + paths, 'timeout': int(timeout)}
    return {'instances': [instance], 'backups': all_backups}


def rollout(groups, app_name, base_dir, install, file_results=(), margin=30):
    """What celery_systemd_rollout gets for the worker groups: ``instances`` and ``backups``.

    ``install``: the shared install's summary (``venv``, ``restart_all``,
    ``files`` and ``backups`` of the shared env file). ``file_results``: the
    results of the template tasks that wrote the groups' files (``item.name``,
    ``changed``, ``dest``, ``backup_file``). A group restarts when one of its
    files changed, every group when ``restart_all``; each instance lists the
    changed files it starts with (restored from their backups on failure).
    """
    changed = {}
    backups = dict(install.get('backups') or {})
    for result in file_results or ():
        paths, group_backups = _changed_files([result])
        if result.get('changed'):
            changed.setdefault(result['item']['name'], []).extend(paths)
            backups.update(group_backups)
    restart_groups = set(group['name'] for group in groups) if install.get('restart_all') else set(changed)
    instances = []
    for group in groups:
        for number in range(1, (group.get('instances') or 1) + 1):
            instances.append({
                'unit': '%s-worker-%s@%d.service' % (app_name, group['name'], number),
                'link': instance_link(base_dir, group['name'], number),
                'target': install['venv'],
                'restart': group['name'] in restart_groups,
                'files': list(install.get('files') or []) + changed.get(group['name'], []),
                # systemctl restart = warm shutdown, then a start until READY.
                'timeout': int(group['stop_timeout']) + int(group['start_timeout']) + margin,
            })
    return {'instances': instances, 'backups': backups}


def plan_input(groups):
    """The celery_worker_plan ``groups`` for the worker groups that describe a workload."""
    result = []
    for group in groups:
        if group.get('kind') is None:
            continue
        item = dict((key, group[key]) for key in WORKLOAD_KEYS + PLAN_FIXED_KEYS if group.get(key) is not None)
        item['name'] = group['name']
        result.append(item)
    return result


def apply_plan(groups, planned):
    """Groups with what they leave out taken from the plan (matched by name).

    What a group sets itself always wins; prefork-only values are taken only
    when the resulting pool is prefork. Adds ``plan_summary`` and
    ``plan_reasons`` for the env file comment and the play output.
    """
    by_name = dict((item['name'], item) for item in planned or [])
    result = []
    for group in groups:
        item = dict(group)
        plan = by_name.get(group['name'])
        if plan is not None:
            for key in PLANNED_KEYS:
                if item.get(key) is None and plan.get(key) is not None:
                    if key == 'concurrency' and item.get('autoscale') is not None:
                        continue
                    item[key] = plan[key]
            if item.get('pool', 'prefork') != 'prefork':
                for key in ('max_tasks_per_child', 'max_memory_per_child'):
                    if group.get(key) is None:
                        item.pop(key, None)
            item['plan_summary'] = plan.get('summary', '')
            item['plan_reasons'] = list(plan.get('reasons') or [])
        result.append(item)
    return result


def concurrency_label(group):
    """What a group's env file header says about its concurrency."""
    return str(group.get('concurrency') or group.get('autoscale') or 'celery default')


def systemd_fields(group, paths):
    """What the systemd renderer writes for ``group``, from ``paths`` (app_name,
    base_dir, config_dir, log_dir: None when the worker logs to the journal only).

    ``exec_start`` keeps systemd's %i (instance) and %H (host) specifiers: the
    arguments are quoted for ExecStart= (a literal % doubled), the specifiers
    around them are not.
    """
    name = group['name']
    specifier_args = ['--hostname=%s%%i@%%H' % name]
    if paths.get('log_dir'):
        specifier_args.append('--logfile=%s/worker-%s-%%i.log' % (paths['log_dir'], name))
    exec_start = launcher_exec_start(paths['base_dir'], 'worker-%s@%%i' % name, group['argv'], specifier_args)
    return {
        'unit_file': '/etc/systemd/system/%s-worker-%s@.service' % (paths['app_name'], name),
        'env_file': '%s/worker-%s.env' % (paths['config_dir'], name),
        'exec_start': exec_start,
        'cpu_quota': systemd_cpu_quota(group['cpu_limit']) if group.get('cpu_limit') else None,
    }


def consumer_timeout_errors(groups, broker):
    """What RabbitMQ's consumer_timeout refuses: a task that may run that long.

    ``broker``: ``type`` (rabbitmq, redis, ...) and ``consumer_timeout``
    (seconds). RabbitMQ closes the channel of a consumer that holds a
    message unacknowledged longer (PRECONDITION_FAILED); the message goes
    back to the queue and the task runs again, so this fails the play
    rather than warning: nothing would show it but tasks run twice.
    """
    if not broker or broker.get('type') != 'rabbitmq':
        return []
    timeout = int(broker['consumer_timeout'])
    errors = []
    for index, group in enumerate(groups):
        for key in ('time_limit', 'soft_time_limit', 'avg_duration_s'):
            if group.get(key) is not None:
                break
        else:
            continue
        if group[key] >= timeout:
            errors.append(
                'celery_worker_groups[%d] (%s).%s (%s s) reaches the broker\'s consumer timeout'
                ' (celery_broker_consumer_timeout_s: %d s): RabbitMQ closes the channel of a worker that holds a'
                ' message unacknowledged that long (PRECONDITION_FAILED) and the task runs again. Raise'
                ' consumer_timeout in rabbitmq.conf (milliseconds) or per queue (the x-consumer-timeout argument)'
                ' above the longest task and set celery_broker_consumer_timeout_s to match, or split the task.'
                % (index, group.get('name'), key, group[key], timeout))
    return errors


def quorum_errors(groups, settings, broker):
    """What quorum queues refuse (``broker``: ``queue_type``, see resolve_groups)."""
    if not broker or broker.get('queue_type') != 'quorum':
        return []
    errors = quorum_conflicts(settings, 'celery_worker_settings')
    for index, group in enumerate(groups):
        where = 'celery_worker_groups[%d] (%s)' % (index, group.get('name'))
        if group.get('autoscale'):
            errors.append(
                '%s.autoscale is set, but celery_broker_queue_type is quorum: Celery\'s autoscaler resizes the'
                ' pool through the channel\'s global prefetch, which quorum queues do not support. Give the group'
                ' a fixed concurrency (or leave it to the plan), or use classic queues.' % where)
        errors.extend(quorum_conflicts(group.get('settings'), where + '.settings'))
    return errors


def public_groups(groups):
    """The groups as the user wrote them -> (the groups in the code's key names, deprecation messages, errors).

    A public key (time_limit_s) becomes the internal one (time_limit), times
    its factor (max_memory_per_child_mb: MiB to KiB); an old key stays as it
    is, with a message naming the new one; both set is an error.
    """
    if not isinstance(groups, list):
        return groups, [], []
    out, deprecations, errors = [], [], []
    for index, group in enumerate(groups):
        if not isinstance(group, dict):
            out.append(group)
            continue
        where = 'celery_worker_groups[%d]%s' % (index, ' (%s)' % group['name'] if isinstance(group.get('name'), str) else '')
        item = dict(group)
        for public, internal, factor in GROUP_RENAMES:
            if public in item and internal in item:
                errors.append('%s sets both %s and %s (its deprecated name): set only %s' % (where, public, internal, public))
            elif internal in item:
                deprecations.append('%s.%s is deprecated: use %s%s' % (
                    where, internal, public, ' (MiB, not KiB)' if factor != 1 else ''))
            elif public in item:
                value = item.pop(public)
                item[internal] = value * factor if _is_int(value) and factor != 1 else value
        out.append(item)
    return out, deprecations, errors


def public_errors(errors):
    """Messages about groups in the public key names (the code's names are internal)."""
    return [_KEY_IN_MESSAGE.sub(lambda match: match.group(1) + _INTERNAL_TO_PUBLIC[match.group(2)], error)
            for error in errors]


RESOLVE_OPTIONS = ('log_level', 'default_stop_timeout', 'stop_margin', 'extra_args', 'settings', 'start_timeout',
                   'watchdog')


def resolve_groups(groups, options, planned=None):
    """The one path from ``celery_worker_groups`` to what every platform renders.

    ``options``: ``app_module`` and the role-wide defaults (the keyword
    arguments of normalize_groups), ``broker`` (``type``, ``consumer_timeout``
    and ``queue_type``: see consumer_timeout_errors and quorum_errors)
    and ``systemd`` (see systemd_fields) when the platform is systemd. ``planned``: the ``groups`` of a
    celery_worker_plan result, None before the plan ran.

    Returns ``errors`` (each naming the variable), ``deprecations`` (old
    group keys used, see public_groups), ``plan_request`` (the
    celery_worker_plan ``groups``: the groups that describe a workload) and
    ``groups``, resolved: the plan laid under what each group sets, every
    default filled in, the command line and (systemd) the unit's values.
    ``groups`` stays empty while there are errors, and while a plan is
    wanted and ``planned`` is None.
    """
    broker = options.get('broker') or {}
    settings = options.get('settings')
    groups, deprecations, errors = public_groups(groups)
    result = {'errors': errors, 'deprecations': deprecations, 'plan_request': [], 'groups': []}
    if not errors:
        result['errors'] = public_errors(group_errors(groups, settings) + quorum_errors(groups, settings, broker))
    if result['errors']:
        return result
    result['plan_request'] = plan_input(groups)
    if result['plan_request'] and planned is None:
        return result
    merged = apply_plan(groups, planned or [])
    # The plan's values are checked like the user's (prefork-only options on a planned threads pool).
    result['errors'] = public_errors(group_errors(merged, settings) + consumer_timeout_errors(merged, broker))
    if result['errors']:
        return result
    kwargs = dict((key, options[key]) for key in RESOLVE_OPTIONS if options.get(key) is not None)
    # The broker's queue type asks every process for settings (beat and Flower get them from the shared env).
    kwargs['settings'] = layer_settings(broker_settings(broker.get('queue_type')), settings)
    for group in normalize_groups(merged, options['app_module'], **kwargs):
        group['concurrency_label'] = concurrency_label(group)
        if options.get('systemd'):
            group['systemd'] = systemd_fields(group, options['systemd'])
        result['groups'].append(group)
    return result
