# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""Variables renamed to the naming scheme (docs/naming.md), and what a run says about the old names.

A renamed variable keeps working until REMOVED_IN: the new name's default in
the role's defaults/main.yml is the old name's value when that is set
(`NEW: "{{ OLD | default(N) }}"`), so the roles read only the new names, and
each role's preflight warns once per old name set, naming the new one. An old
and a new name both set to different values is refused: which one was meant
cannot be known.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

REMOVED_IN = '0.4.0'

# scope (the role whose spec owns the names; celery_common: the shared ones) -> {old: new}
RENAMED = {
    'celery_common': {
        'celery_broker_consumer_timeout': 'celery_broker_consumer_timeout_s',
        'celery_rollout_settle': 'celery_rollout_settle_s',
        'celery_compose_wait_timeout': 'celery_compose_wait_timeout_s',
        'celery_compose_healthcheck_interval': 'celery_compose_healthcheck_interval_s',
        'celery_compose_healthcheck_timeout': 'celery_compose_healthcheck_timeout_s',
        'celery_compose_healthcheck_start_period': 'celery_compose_healthcheck_start_period_s',
        'celery_k8s_progress_deadline': 'celery_k8s_progress_deadline_s',
    },
    'celery_worker': {
        'celery_worker_stop_timeout': 'celery_worker_stop_timeout_s',
        'celery_worker_stop_margin': 'celery_worker_stop_margin_s',
        'celery_worker_start_timeout': 'celery_worker_start_timeout_s',
        'celery_worker_watchdog': 'celery_worker_watchdog_s',
        'celery_worker_restart_sec': 'celery_worker_restart_s',
        'celery_worker_start_limit_interval': 'celery_worker_start_limit_interval_s',
    },
    'celery_beat': {
        'celery_beat_max_interval': 'celery_beat_max_interval_s',
        'celery_beat_lock_timeout': 'celery_beat_lock_timeout_s',
        'celery_beat_start_timeout': 'celery_beat_start_timeout_s',
        'celery_beat_stop_timeout': 'celery_beat_stop_timeout_s',
        'celery_beat_restart_sec': 'celery_beat_restart_s',
    },
    'celery_flower': {
        'celery_flower_purge_offline_workers': 'celery_flower_purge_offline_workers_s',
        'celery_flower_start_timeout': 'celery_flower_start_timeout_s',
        'celery_flower_stop_timeout': 'celery_flower_stop_timeout_s',
        'celery_flower_restart_sec': 'celery_flower_restart_s',
    },
}


# Sizes renamed to whole MiB (scope -> {old: (new, the unit the renderer appends)}). An old size string, when
# set, is used as it is (a claim's size cannot change, so nothing is converted); the new name then has its
# default, so old and new cannot be compared: the old one wins, and the warning says so.
RESIZED = {
    'celery_common': {
        'celery_logrotate_maxsize': ('celery_logrotate_maxsize_mb', 'M'),
        'celery_compose_log_max_size': ('celery_compose_log_max_size_mb', 'm'),
    },
    'celery_beat': {'celery_beat_k8s_state_size': ('celery_beat_k8s_state_size_mb', 'Mi')},
    'celery_flower': {'celery_flower_k8s_state_size': ('celery_flower_k8s_state_size_mb', 'Mi')},
}


def renamed_set(names, roles):
    """[[old, new]] of the renamed variables whose old name is among ``names`` (the defined ones): the
    shared ones, and those of each role in ``roles`` (the play's roles; others have none)."""
    scopes = ['celery_common'] + [role.split('.')[-1] for role in roles]
    table = dict((old, new) for scope in scopes for old, new in RENAMED.get(scope, {}).items())
    table.update((old, new[0]) for scope in scopes for old, new in RESIZED.get(scope, {}).items())
    defined = set(names)
    return [[old, new] for old, new in sorted(table.items()) if old in defined]


def _resized(old):
    return any(old in names for names in RESIZED.values())


def deprecation(old, new):
    if _resized(old):
        return ('%s is deprecated: use %s (a whole number of MiB); until then the size string given is used as it is'
                % (old, new))
    return '%s is deprecated: use %s (the same value, in seconds)' % (old, new)


def conflicts(pairs, old_values, new_values):
    """The errors of pairs whose old and new names are both set to different values (values never printed)."""
    if not len(pairs) == len(old_values) == len(new_values):
        raise ValueError('%d renamed variables but %d old and %d new values' % (len(pairs), len(old_values), len(new_values)))
    return ['%s and %s are both set, to different values: set only %s' % (old, new, new)
            for (old, new), old_value, new_value in zip(pairs, old_values, new_values)
            if str(old_value) != str(new_value) and not _resized(old)]
