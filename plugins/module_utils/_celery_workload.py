# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The measured workload: what the launcher recorded, per worker group, in the plan's shape.

The launcher (roles/celery_common/files/celeryops-celery.py, ``Workload``)
writes one record per process that ran tasks: task count, summed wall and
CPU time, a wall-time histogram (bucket k: up to 1 ms x 1.25^k), peak RSS
and how much it grew from the first task on. This module turns the records
of a group's instances into the numbers a user reads (tasks, mean, p95,
CPU share, memory) and into the workload keys of ``celery_worker_groups``
(``kind``, ``avg_duration_s``, ``cpu_time_s``, ``task_memory_mb``) that
``celery_worker_plan`` takes. Pure functions, no Ansible imports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_plan import THREAD_POOLS

# The launcher's histogram (it runs on hosts without this collection, so it
# keeps its own copy; a unit test checks that they agree).
BUCKET_BASE_S = 0.001
BUCKET_GROWTH = 1.25


def bucket_upper_s(bucket):
    return BUCKET_BASE_S * BUCKET_GROWTH ** int(bucket)


def percentile_s(buckets, fraction):
    """Upper bound of the histogram bucket that holds the ``fraction`` quantile (None: no tasks)."""
    counts = sorted((int(bucket), count) for bucket, count in buckets.items())
    total = sum(count for _bucket, count in counts)
    if not total:
        return None
    wanted = fraction * total
    seen = 0
    for bucket, count in counts:
        seen += count
        if seen >= wanted:
            return bucket_upper_s(bucket)
    return bucket_upper_s(counts[-1][0])


def task_memory_kib(record):
    """Memory one task adds to its process: the RSS growth, shared by the tasks that ran at once."""
    growth = record.get('rss_growth_kib', 0)
    if record.get('pool') in THREAD_POOLS:
        growth = growth / max(1, record.get('max_running', 1))
    return growth


def _sig(value, digits=3):
    if not value:
        return value
    return round(value, max(0, digits - 1 - int(math.floor(math.log10(abs(value))))))


def group_report(name, records):
    """The report of one group from its processes' records (None when no task ran)."""
    records = [record for record in records if record.get('count')]
    count = sum(record['count'] for record in records)
    if not count:
        return None
    wall = sum(record['wall_s'] for record in records)
    cpu_count = sum(record.get('cpu_count', 0) for record in records)
    cpu = sum(record.get('cpu_s', 0.0) for record in records)
    buckets = {}
    for record in records:
        for bucket, number in record.get('buckets', {}).items():
            buckets[bucket] = buckets.get(bucket, 0) + number
    mean = wall / count
    # CPU time per task from the tasks whose CPU could be measured (none on
    # gevent/eventlet); the share relates it to the same tasks' wall time.
    cpu_time = cpu / cpu_count if cpu_count else None
    share = min(1.0, cpu_time / mean) if cpu_time is not None and mean > 0 else None
    memory_mb = max(1, int(math.ceil(max(task_memory_kib(record) for record in records) / 1024.0)))
    peak_rss_mb = int(math.ceil(max(record.get('max_rss_kib', 0) for record in records) / 1024.0))
    workload = {'kind': 'mixed', 'avg_duration_s': _sig(mean), 'task_memory_mb': memory_mb}
    if cpu_time is not None:
        workload['cpu_time_s'] = _sig(max(cpu_time, 1e-6))
    return {
        'name': name,
        'tasks': count,
        'processes': len(records),
        'mean_s': _sig(mean),
        'p95_s': _sig(percentile_s(buckets, 0.95)),
        'cpu_share': None if share is None else round(share, 3),
        'task_memory_mb': memory_mb,
        'peak_rss_mb': peak_rss_mb,
        'workload': workload,
    }


def report(records_by_group):
    """Reports of every group that ran tasks, by name, in name order."""
    out = []
    for name in sorted(records_by_group):
        item = group_report(name, records_by_group[name])
        if item is not None:
            out.append(item)
    return out


def table(reports):
    """A plain text table of the reports."""
    header = ('group', 'tasks', 'mean', 'p95', 'CPU share', 'task memory', 'peak RSS')
    rows = [header]
    for item in reports:
        rows.append((item['name'], str(item['tasks']), '%.4g s' % item['mean_s'],
                     '<= %.3g s' % item['p95_s'] if item['p95_s'] else '-',
                     '-' if item['cpu_share'] is None else '%d %%' % round(100 * item['cpu_share']),
                     '%d MB' % item['task_memory_mb'], '%d MB' % item['peak_rss_mb']))
    widths = [max(len(row[column]) for row in rows) for column in range(len(header))]
    return ['  '.join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
