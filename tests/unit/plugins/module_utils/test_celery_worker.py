"""Worker groups: validation messages, defaults and the celery command line."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw

IO = {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 16}
CPU = {'name': 'cpu', 'queues': ['cpu', 'celery'], 'concurrency': 2, 'instances': 2,
       'max_tasks_per_child': 100, 'max_memory_per_child': 200000, 'time_limit': 60}


def test_valid_groups_have_no_errors():
    assert cw.group_errors([IO, CPU]) == []


@pytest.mark.parametrize('groups, fragment', [
    ([], 'celery_worker_groups must be a non-empty list'),
    ('io', 'celery_worker_groups must be a non-empty list'),
    (['io'], 'celery_worker_groups[0] must be a dict'),
    ([dict(IO, pool='fork')], "celery_worker_groups[0] (io).pool must be one of prefork, threads, gevent, eventlet, solo; got 'fork'"),
    ([dict(IO, concurrency=0)], 'celery_worker_groups[0] (io).concurrency must be a whole number of 1 or more; got 0'),
    ([dict(IO, concurrency=-4)], '(io).concurrency must be a whole number of 1 or more; got -4'),
    ([dict(IO, concurrency='8')], "(io).concurrency must be a whole number of 1 or more; got '8'"),
    ([dict(IO, concurrency=True)], '(io).concurrency must be a whole number of 1 or more; got True'),
    ([dict(CPU, instances=0)], '(cpu).instances must be a whole number of 1 or more'),
    ([dict(IO, queues=[])], 'celery_worker_groups[0] (io).queues must be a non-empty list of queue names'),
    ([dict(IO, queues='io')], '(io).queues must be a non-empty list'),
    ([dict(IO, queues=['a,b'])], "(io).queues has an invalid queue name 'a,b'"),
    ([dict(IO, name='IO')], "celery_worker_groups[0].name must be 1-30 lowercase letters"),
    ([dict(IO, name='io_fast')], 'celery_worker_groups[0].name must be'),
    ([dict(IO, name='q1')], 'celery_worker_groups[0].name must be'),
    ([dict(IO, name='a@b')], 'celery_worker_groups[0].name must be'),
    ([dict(IO, name='')], 'celery_worker_groups[0].name must be'),
    ([{'queues': ['io']}], 'celery_worker_groups[0].name must be'),
    ([IO, dict(CPU, name='io')], "celery_worker_groups[1].name 'io' is used twice"),
    ([dict(IO, max_tasks_per_child=10)], '(io).max_tasks_per_child only works with the prefork pool'),
    ([dict(IO, max_memory_per_child=10)], '(io).max_memory_per_child only works with the prefork pool'),
    ([dict(IO, pool='solo')], '(io).concurrency must be 1 (or left out) for the solo pool'),
    ([dict(CPU, concurrency=None, autoscale='2,8')], "(cpu).autoscale must be 'max,min'"),
    ([dict(CPU, autoscale='8,2')], '(cpu) sets both autoscale and concurrency'),
    ([dict(CPU, soft_time_limit=60)], '(cpu).soft_time_limit (60) must be below time_limit (60)'),
    ([dict(IO, environment={'1BAD': 'x'})], "(io).environment has an invalid variable name '1BAD'"),
    ([dict(IO, environment=['A=1'])], '(io).environment must be a dict'),
    ([dict(IO, extra_args=['--detach'])], '(io).extra_args must not contain --detach'),
    ([dict(IO, extra_args=['--hostname=x'])], '(io).extra_args must not contain --hostname'),
    ([dict(IO, extra_args='--without-mingle')], '(io).extra_args must be a list of strings'),
    ([dict(IO, concurency=4)], '(io) has unknown keys: concurency'),
])
def test_errors_name_the_variable(groups, fragment):
    errors = cw.group_errors(groups)
    assert any(fragment in error for error in errors), errors


def test_every_problem_is_reported():
    errors = cw.group_errors([dict(IO, concurrency=0, queues=[], pool='nope')])
    assert len(errors) == 3, errors


@pytest.mark.parametrize('group, expected', [
    ({'stop_timeout': 42, 'time_limit': 600}, 42),
    ({'time_limit': 600}, 630),
    ({}, 300),
])
def test_stop_timeout(group, expected):
    assert cw.stop_timeout(group, default=300, margin=30) == expected


def test_worker_argv_full():
    argv = cw.worker_argv('proj.celery:app', CPU, 'info')
    assert argv == ['-A', 'proj.celery:app', 'worker', '--loglevel=INFO', '--queues=cpu,celery',
                    '--pool=prefork', '--concurrency=2', '--max-tasks-per-child=100',
                    '--max-memory-per-child=200000', '--time-limit=60']


def test_worker_argv_minimal_leaves_celery_defaults():
    argv = cw.worker_argv('proj', {'name': 'default', 'queues': ['celery']})
    assert argv == ['-A', 'proj', 'worker', '--loglevel=INFO', '--queues=celery', '--pool=prefork']


def test_normalize_fills_defaults_and_keeps_input():
    source = [dict(IO, extra_args=['--without-gossip'])]
    out = cw.normalize_groups(source, 'proj', 'warning', default_stop_timeout=120, stop_margin=10,
                              extra_args=['--without-mingle'])
    assert source[0] == dict(IO, extra_args=['--without-gossip'])  # input untouched
    group = out[0]
    assert group['instances'] == 1
    assert group['environment'] == {}
    assert group['stop_timeout'] == 120
    assert group['extra_args'] == ['--without-mingle', '--without-gossip']
    assert group['argv'][-2:] == ['--without-mingle', '--without-gossip']
    assert '--loglevel=WARNING' in group['argv']


def test_instance_units():
    assert cw.instance_units([dict(IO), dict(CPU)], 'shop') == [
        'shop-worker-io@1.service', 'shop-worker-cpu@1.service', 'shop-worker-cpu@2.service']
