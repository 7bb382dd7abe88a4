"""The measured workload, turned into the report and the plan's workload keys."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_workload as cw


def record(**kwargs):
    base = {'pid': 1, 'pool': 'prefork', 'count': 0, 'wall_s': 0.0, 'cpu_s': 0.0, 'cpu_count': 0, 'buckets': {},
            'max_rss_kib': 0, 'rss_growth_kib': 0, 'max_running': 1}
    base.update(kwargs)
    return base


def test_percentile_is_the_upper_bound_of_the_bucket_that_holds_it():
    # 90 tasks in bucket 10 (<= 9.3 ms), 10 in bucket 20 (<= 86.7 ms).
    buckets = {'10': 90, '20': 10}
    assert cw.percentile_s(buckets, 0.5) == pytest.approx(0.001 * 1.25 ** 10)
    assert cw.percentile_s(buckets, 0.95) == pytest.approx(0.001 * 1.25 ** 20)
    assert cw.percentile_s({}, 0.95) is None


def test_a_group_report_adds_its_processes_up():
    records = [record(pid=1, count=60, wall_s=3.0, cpu_s=0.6, cpu_count=60, buckets={'18': 60},
                      max_rss_kib=90000, rss_growth_kib=30720),
               record(pid=2, count=40, wall_s=2.0, cpu_s=0.4, cpu_count=40, buckets={'18': 39, '25': 1},
                      max_rss_kib=80000, rss_growth_kib=10240),
               record(pid=3)]  # a child that ran nothing
    item = cw.group_report('io', records)
    assert (item['tasks'], item['processes'], item['mean_s']) == (100, 2, 0.05)
    assert item['cpu_share'] == 0.2
    assert item['task_memory_mb'] == 30          # the largest growth of one child
    assert item['peak_rss_mb'] == 88
    assert item['workload'] == {'kind': 'mixed', 'avg_duration_s': 0.05, 'cpu_time_s': 0.01, 'task_memory_mb': 30}


def test_threads_share_their_process_growth_among_the_tasks_that_ran_at_once():
    item = cw.group_report('io', [record(pool='threads', count=10, wall_s=1.0, cpu_s=0.1, cpu_count=10,
                                         buckets={'20': 10}, rss_growth_kib=40960, max_running=8)])
    assert item['task_memory_mb'] == 5


def test_green_threads_report_no_cpu_share():
    item = cw.group_report('io', [record(pool='gevent', count=10, wall_s=1.0, buckets={'20': 10})])
    assert item['cpu_share'] is None
    assert 'cpu_time_s' not in item['workload']


def test_report_and_table():
    records = {'b': [record(count=2, wall_s=1.0, cpu_s=1.0, cpu_count=2, buckets={'28': 2})], 'a': [record()]}
    reports = cw.report(records)
    assert [item['name'] for item in reports] == ['b']   # a ran nothing
    lines = cw.table(reports)
    assert lines[0].split() == ['group', 'tasks', 'mean', 'p95', 'CPU', 'share', 'task', 'memory', 'peak', 'RSS']
    assert lines[1].split()[:4] == ['b', '2', '0.5', 's']
    assert '100 %' in lines[1]


def test_the_histogram_is_the_launchers():
    import importlib.util
    import os
    path = os.path.join(os.path.dirname(__file__), '..', '..', '..', '..', 'roles', 'celery_common', 'files',
                        'celeryops-celery.py')
    spec = importlib.util.spec_from_file_location('celeryops_launcher', path)
    launcher = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(launcher)
    assert (launcher.BUCKET_BASE_S, launcher.BUCKET_GROWTH) == (cw.BUCKET_BASE_S, cw.BUCKET_GROWTH)
    assert cw.bucket_upper_s(launcher._bucket(0.05)) >= 0.05 > cw.bucket_upper_s(launcher._bucket(0.05) - 1)
