# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The ``celery`` command lines of beat and Flower (private helper).

Like the worker's (see ``_celery_worker.worker_argv``), one source of truth
for every platform. Secrets are never arguments: they travel in environment
variables (``CELERY_BROKER_URL``, ``FLOWER_BASIC_AUTH``), which ``ps`` does not show.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type


def beat_argv(app_module, scheduler='', schedule_file='', max_interval=0, log_level='info', extra_args=None):
    """Arguments (after the ``celery`` executable) that run beat in the foreground."""
    argv = ['-A', app_module, 'beat', '--loglevel=%s' % log_level.upper()]
    if scheduler:
        argv.append('--scheduler=%s' % scheduler)
    elif schedule_file:
        # Only the default PersistentScheduler keeps a local schedule file.
        argv.append('--schedule=%s' % schedule_file)
    if max_interval:
        argv.append('--max-interval=%d' % int(max_interval))
    argv.extend(extra_args or [])
    return argv


def flower_argv(app_module, address='127.0.0.1', port=5555, url_prefix='', persistent=False, db='',
                max_tasks=0, purge_offline_workers=0, log_level='info', extra_args=None, open_metrics=False,
                runtime_buckets=None):
    """Arguments that run Flower; authentication comes from FLOWER_BASIC_AUTH.

    ``open_metrics`` adds the launcher's own flag that serves /metrics
    without the login (the launcher asks for it otherwise).
    ``runtime_buckets``: the upper bounds, in seconds, of the buckets of
    Flower's flower_task_runtime_seconds histogram (empty keeps Flower's,
    which end at 10 s: every longer task lands in +Inf and the runtime
    quantiles read 10 s at most).
    """
    argv = ['-A', app_module, 'flower', '--address=%s' % address, '--port=%d' % int(port),
            '--logging=%s' % log_level.lower()]
    if url_prefix:
        argv.append('--url_prefix=%s' % url_prefix.strip('/'))
    if persistent:
        argv.extend(['--persistent=True', '--db=%s' % db])
    if max_tasks:
        argv.append('--max_tasks=%d' % int(max_tasks))
    if purge_offline_workers:
        argv.append('--purge_offline_workers=%d' % int(purge_offline_workers))
    if runtime_buckets:
        argv.append('--task_runtime_metric_buckets=%s' % ','.join(_buckets(runtime_buckets)))
    if open_metrics:
        argv.append('--celeryops-open-metrics')
    argv.extend(extra_args or [])
    return argv


def _buckets(bounds):
    """Histogram bucket bounds as Flower's option takes them (a comma list of
    floats); each above 0 and above the one before, as prometheus_client
    requires (it refuses unsorted bounds when Flower starts)."""
    values = [float(bound) for bound in bounds]
    if values[0] <= 0 or any(later <= earlier for earlier, later in zip(values, values[1:])):
        raise ValueError('runtime_buckets must be above 0 and increasing, got %s' % list(bounds))
    return ['%g' % value for value in values]


def flower_health_url(address='127.0.0.1', port=5555, url_prefix=''):
    """The URL of Flower's /healthcheck, as a client on the same host reaches it.

    A wildcard listen address is reached on loopback; IPv6 literals get brackets.
    """
    host = {'': '127.0.0.1', '0.0.0.0': '127.0.0.1', '::': '::1'}.get(address, address)
    if ':' in host:
        host = '[%s]' % host
    prefix = url_prefix.strip('/')
    return 'http://%s:%d%s/healthcheck' % (host, int(port), '/' + prefix if prefix else '')
