"""Worker groups: validation messages, defaults and the celery command line."""

import json

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


@pytest.mark.parametrize('value', [0.25, 1, 1.5, 16])
def test_cpu_limit_accepts_a_positive_number(value):
    assert cw.group_errors([dict(IO, cpu_limit=value)]) == []


@pytest.mark.parametrize('value', [0, 0.0, -1, -0.5, True, False, '1.5', 'lots', [1], float('nan'), float('inf')])
def test_cpu_limit_rejects_what_is_not_a_positive_number(value):
    errors = cw.group_errors([dict(IO, cpu_limit=value)])
    assert errors == ['celery_worker_groups[0] (io).cpu_limit must be a number of CPUs above 0 (e.g. 1.5);'
                      ' got %r' % (value,)]


@pytest.mark.parametrize('value', [1, 400, 65536])
def test_memory_limit_mb_accepts_a_whole_number(value):
    assert cw.group_errors([dict(CPU, memory_limit_mb=value)]) == []


@pytest.mark.parametrize('value', [0, -400, 400.0, 1.5, '400', '400M', True])
def test_memory_limit_mb_rejects_what_is_not_a_whole_number(value):
    errors = cw.group_errors([IO, dict(CPU, memory_limit_mb=value)])
    assert errors == ['celery_worker_groups[1] (cpu).memory_limit_mb must be a whole number of 1 or more;'
                      ' got %r' % (value,)]


def test_limits_left_out_or_none_are_fine():
    assert cw.group_errors([dict(IO, cpu_limit=None, memory_limit_mb=None)]) == []


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


PLANNED_IO = {'name': 'io', 'pool': 'threads', 'concurrency': 10, 'instances': 1, 'prefetch_multiplier': 4,
              'max_tasks_per_child': None, 'max_memory_per_child': None, 'stop_timeout': 60,
              'summary': 'io: threads x 10', 'reasons': ['why']}
PLANNED_CPU = {'name': 'cpu', 'pool': 'prefork', 'concurrency': 2, 'instances': 1, 'prefetch_multiplier': 1,
               'max_tasks_per_child': 1000, 'max_memory_per_child': 307200, 'stop_timeout': 90,
               'summary': 'cpu: prefork x 2', 'reasons': []}


def test_plan_input_takes_only_groups_with_a_kind():
    groups = [
        {'name': 'io', 'queues': ['io'], 'kind': 'io', 'task_memory_mb': 30, 'avg_duration_s': 0.05,
         'rate_per_s': 100, 'pool': 'threads', 'time_limit': 60, 'soft_time_limit': 50},
        {'name': 'fixed', 'queues': ['x'], 'concurrency': 3},
    ]
    assert cw.plan_input(groups) == [
        {'name': 'io', 'kind': 'io', 'task_memory_mb': 30, 'avg_duration_s': 0.05, 'rate_per_s': 100,
         'pool': 'threads', 'time_limit': 60, 'soft_time_limit': 50}]


def test_apply_plan_fills_only_what_the_group_leaves_out():
    groups = [
        {'name': 'io', 'queues': ['io'], 'kind': 'io', 'prefetch_multiplier': 8},
        {'name': 'cpu', 'queues': ['cpu'], 'kind': 'cpu', 'concurrency': 1, 'time_limit': 60},
        {'name': 'fixed', 'queues': ['x'], 'concurrency': 3},
    ]
    io, cpu, fixed = cw.apply_plan(groups, [PLANNED_IO, PLANNED_CPU])
    assert io['pool'] == 'threads' and io['concurrency'] == 10 and io['prefetch_multiplier'] == 8
    assert 'max_tasks_per_child' not in io and 'max_memory_per_child' not in io
    assert io['stop_timeout'] == 60 and io['plan_summary'] == 'io: threads x 10' and io['plan_reasons'] == ['why']
    assert cpu['concurrency'] == 1  # the user's value wins
    assert cpu['max_tasks_per_child'] == 1000 and cpu['max_memory_per_child'] == 307200
    assert cpu['prefetch_multiplier'] == 1 and cpu['stop_timeout'] == 90
    assert fixed == groups[2]
    assert cw.group_errors([io, cpu, fixed]) == []


def test_apply_plan_exposes_prefork_options_the_planned_pool_would_ignore():
    groups = [{'name': 'io', 'queues': ['io'], 'kind': 'io', 'max_tasks_per_child': 50}]
    merged = cw.apply_plan(groups, [PLANNED_IO])
    assert any('(io).max_tasks_per_child only works with the prefork pool (pool is threads)' in error
               for error in cw.group_errors(merged))


def test_apply_plan_keeps_autoscale_instead_of_concurrency():
    groups = [{'name': 'cpu', 'queues': ['cpu'], 'kind': 'cpu', 'autoscale': '4,1'}]
    merged = cw.apply_plan(groups, [PLANNED_CPU])[0]
    assert 'concurrency' not in merged and merged['autoscale'] == '4,1'


def test_apply_plan_fills_the_container_limits():
    groups = [{'name': 'cpu', 'queues': ['cpu'], 'kind': 'cpu'}]
    merged = cw.apply_plan(groups, [dict(PLANNED_CPU, cpu_limit=1.1, memory_limit_mb=610)])[0]
    assert merged['cpu_limit'] == 1.1
    assert merged['memory_limit_mb'] == 610  # the plan's memory_limit_mb
    assert cw.group_errors([merged]) == []


@pytest.mark.parametrize('own', [{'cpu_limit': 0.5}, {'memory_limit_mb': 300},
                                 {'cpu_limit': 2, 'memory_limit_mb': 1024}])
def test_apply_plan_keeps_the_groups_own_limits(own):
    groups = [dict({'name': 'cpu', 'queues': ['cpu'], 'kind': 'cpu'}, **own)]
    merged = cw.apply_plan(groups, [dict(PLANNED_CPU, cpu_limit=1.1, memory_limit_mb=610)])[0]
    assert merged['cpu_limit'] == own.get('cpu_limit', 1.1)
    assert merged['memory_limit_mb'] == own.get('memory_limit_mb', 610)


def test_apply_plan_without_limits_in_the_plan_adds_none():
    groups = [{'name': 'cpu', 'queues': ['cpu'], 'kind': 'cpu'}, {'name': 'fixed', 'queues': ['x']}]
    cpu, fixed = cw.apply_plan(groups, [PLANNED_CPU])
    assert 'cpu_limit' not in cpu and 'memory_limit_mb' not in cpu
    assert fixed == groups[1]  # no plan for it: nothing filled in


@pytest.mark.parametrize('group, expected', [
    # (80 + 2 x 195.3 MB x 1.5) x 1.25 = 833
    ({'name': 'cpu', 'queues': ['cpu'], 'pool': 'prefork', 'concurrency': 2, 'max_memory_per_child': 200000}, 833),
    ({'name': 'cpu', 'queues': ['cpu'], 'concurrency': 2, 'max_memory_per_child': 200000, 'memory_limit_mb': 300},
     300),
    # the plan's memory model from what the group states, with its headroom:
    # threads (80 + 8 x 20) x 1.25 = 300; prefork (80 + 2 x (60 + 100)) x 1.25 = 500; solo (80 + 50) x 1.25 = 163
    ({'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8, 'task_memory_mb': 20}, 300),
    ({'name': 'cpu', 'queues': ['cpu'], 'concurrency': 2, 'task_memory_mb': 100}, 500),
    ({'name': 'one', 'queues': ['one'], 'pool': 'solo', 'task_memory_mb': 50}, 163),
])
def test_a_group_without_a_plan_gets_a_memory_limit_from_what_it_states(group, expected):
    item = cw.normalize_groups([group], 'proj:app')[0]
    assert item['memory_limit_mb'] == expected
    assert 'memory_limit_warning' not in item


@pytest.mark.parametrize('group', [
    {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 8},
    {'name': 'cpu', 'queues': ['cpu'], 'concurrency': 2},           # no max_memory_per_child
    {'name': 'cpu', 'queues': ['cpu'], 'max_memory_per_child': 200000},   # Celery's concurrency: the host's CPUs
    {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'task_memory_mb': 20},   # no concurrency: no count of tasks
])
def test_a_group_with_nothing_to_size_a_limit_from_is_named_in_a_warning(group):
    item = cw.normalize_groups([group], 'proj:app')[0]
    assert item['memory_limit_mb'] is None
    assert item['memory_limit_warning'].startswith('worker group %s runs without a memory limit' % group['name'])


# --------------------------------------------------------------------------
# resolve_groups: the one path the role takes
# --------------------------------------------------------------------------

OPTIONS = {'app_module': 'shop.celery:app', 'log_level': 'info', 'default_stop_timeout': 300, 'stop_margin': 30,
           'start_timeout': 90, 'watchdog': 60, 'extra_args': [], 'settings': {}}
SYSTEMD = {'app_name': 'shop', 'base_dir': '/opt/celery/shop', 'config_dir': '/etc/celery/shop',
           'log_dir': None}


def test_resolve_reports_errors_and_resolves_nothing():
    result = cw.resolve_groups([{'name': 'io', 'queues': []}, {'name': 'io', 'queues': ['q']}], OPTIONS)
    assert any('celery_worker_groups[0] (io).queues' in error for error in result['errors'])
    assert any('is used twice' in error for error in result['errors'])
    assert result['groups'] == [] and result['plan_request'] == []


def test_resolve_asks_for_the_plan_first_and_resolves_with_it():
    groups = [{'name': 'io', 'queues': ['io'], 'kind': 'io', 'prefetch_multiplier': 8, 'time_limit': 60},
              {'name': 'fixed', 'queues': ['x'], 'concurrency': 3}]
    first = cw.resolve_groups(groups, OPTIONS)
    assert first['errors'] == [] and first['groups'] == []
    assert first['plan_request'] == [{'name': 'io', 'kind': 'io', 'time_limit': 60}]
    io, fixed = cw.resolve_groups(groups, OPTIONS, [PLANNED_IO])['groups']
    assert (io['pool'], io['concurrency'], io['prefetch_multiplier']) == ('threads', 10, 8)
    # What the group sets wins over the plan: its time limit makes the stop timeout.
    assert io['stop_timeout'] == 60 and io['plan_summary'] == 'io: threads x 10'
    assert '--concurrency=10' in io['argv'] and '--time-limit=60' in io['argv']
    assert (fixed['pool'], fixed['concurrency'], fixed['stop_timeout'], fixed['instances']) == ('prefork', 3, 300, 1)
    assert 'systemd' not in io  # not asked for: another platform


def test_resolve_without_a_workload_needs_no_plan():
    result = cw.resolve_groups([{'name': 'fixed', 'queues': ['x'], 'concurrency': 3}], OPTIONS)
    assert result['plan_request'] == [] and [group['name'] for group in result['groups']] == ['fixed']


def test_resolve_checks_what_the_plan_brings():
    groups = [{'name': 'io', 'queues': ['io'], 'kind': 'io', 'max_tasks_per_child': 50}]
    result = cw.resolve_groups(groups, OPTIONS, [PLANNED_IO])
    assert result['groups'] == []
    assert any('max_tasks_per_child only works with the prefork pool (pool is threads)' in error
               for error in result['errors'])


@pytest.mark.parametrize('concurrency, autoscale, label', [
    (4, None, '4'), (None, '8,2', '8,2'), (None, None, 'celery default')])
def test_resolve_concurrency_label(concurrency, autoscale, label):
    group = dict((key, value) for key, value in (('concurrency', concurrency), ('autoscale', autoscale)) if value)
    resolved = cw.resolve_groups([dict(group, name='io', queues=['io'])], OPTIONS)['groups'][0]
    assert resolved['concurrency_label'] == label


@pytest.mark.parametrize('log_dir, logfile', [(None, ''), ('/var/log/celery/shop',
                                                           ' --logfile=/var/log/celery/shop/worker-io-%i.log')])
def test_resolve_systemd_exec_start(log_dir, logfile):
    options = dict(OPTIONS, systemd=dict(SYSTEMD, log_dir=log_dir))
    group = {'name': 'io', 'queues': ['io', 'b'], 'pool': 'threads', 'concurrency': 8,
             'extra_args': ['-O', 'fair', '--statedb=/var/lib/celery/shop/io%n 1.db']}
    item = cw.resolve_groups([group], options)['groups'][0]
    assert item['systemd']['exec_start'] == (
        '/opt/celery/shop/instances/worker-io@%i/bin/python /opt/celery/shop/celeryops-celery.py'
        ' -A shop.celery:app worker --loglevel=INFO --queues=io,b --pool=threads --concurrency=8 -O fair'
        ' "--statedb=/var/lib/celery/shop/io%%n 1.db"'
        ' --hostname=io%i@%H' + logfile)
    assert item['systemd']['unit_file'] == '/etc/systemd/system/shop-worker-io@.service'
    assert item['systemd']['env_file'] == '/etc/celery/shop/worker-io.env'


@pytest.mark.parametrize('cpu_limit, quota', [(None, None), (1.5, '150%'), (1.101, '111%'), (0.004, '1%'),
                                              (2, '200%')])
def test_resolve_systemd_cpu_quota(cpu_limit, quota):
    group = dict({'name': 'io', 'queues': ['io']}, **({'cpu_limit': cpu_limit} if cpu_limit else {}))
    item = cw.resolve_groups([group], dict(OPTIONS, systemd=SYSTEMD))['groups'][0]
    assert item['systemd']['cpu_quota'] == quota


RABBITMQ = {'type': 'rabbitmq', 'consumer_timeout': 1800}


@pytest.mark.parametrize('group, key', [
    ({'time_limit_s': 3600}, 'time_limit_s'),
    ({'soft_time_limit_s': 1800}, 'soft_time_limit_s'),
    # The time limit speaks for the task even when its average is short.
    ({'time_limit_s': 2000, 'avg_duration_s': 5}, 'time_limit_s'),
])
def test_resolve_refuses_tasks_as_long_as_rabbitmqs_consumer_timeout(group, key):
    groups = [dict({'name': 'reports', 'queues': ['reports']}, **group)]
    result = cw.resolve_groups(groups, dict(OPTIONS, broker=RABBITMQ))
    assert result['groups'] == []
    assert len(result['errors']) == 1
    error = result['errors'][0]
    assert error.startswith('celery_worker_groups[0] (reports).%s (' % key)
    assert 'celery_broker_consumer_timeout_s: 1800 s' in error and 'consumer_timeout in rabbitmq.conf' in error


def test_resolve_refuses_a_planned_workload_as_long_as_the_consumer_timeout():
    planned = [dict(PLANNED_CPU, name='reports')]
    groups = [{'name': 'reports', 'queues': ['r'], 'kind': 'cpu', 'task_memory_mb': 100, 'avg_duration_s': 2400}]
    errors = cw.resolve_groups(groups, dict(OPTIONS, broker=RABBITMQ), planned)['errors']
    assert errors and '(reports).avg_duration_s (2400 s)' in errors[0]


@pytest.mark.parametrize('broker, group', [
    (RABBITMQ, {'time_limit': 1799}),
    (dict(RABBITMQ, consumer_timeout=7200), {'time_limit': 3600}),
    ({'type': 'redis', 'consumer_timeout': 1800}, {'time_limit': 3600}),  # Redis has a visibility timeout instead
    (RABBITMQ, {}),
    (None, {'time_limit': 3600}),
])
def test_resolve_accepts_what_the_consumer_timeout_allows(broker, group):
    groups = [dict({'name': 'reports', 'queues': ['reports']}, **group)]
    result = cw.resolve_groups(groups, dict(OPTIONS, broker=broker))
    assert result['errors'] == [] and len(result['groups']) == 1


# --- quorum queues ------------------------------------------------------------

QUORUM = dict(RABBITMQ, queue_type='quorum')


def _settings_env(group):
    return json.loads(group['environment']['CELERYOPS_CELERY_SETTINGS'])


def test_resolve_gives_every_group_the_quorum_settings_under_its_own():
    groups = [{'name': 'io', 'queues': ['io']},
              {'name': 'cpu', 'queues': ['cpu'], 'settings': {'broker_transport_options': {'max_retries': 3}}}]
    options = dict(OPTIONS, broker=QUORUM, settings={'task_acks_late': True})
    io, cpu = cw.resolve_groups(groups, options)['groups']
    assert _settings_env(io) == {'task_acks_late': True, 'task_default_queue_type': 'quorum',
                                 'task_create_missing_queue_type': 'quorum', 'task_default_exchange_type': 'topic',
                                 'task_create_missing_queue_exchange_type': 'topic',
                                 'broker_transport_options': {'confirm_publish': True}}
    # A group's own transport options join the broker's rather than replace them.
    assert _settings_env(cpu)['broker_transport_options'] == {'confirm_publish': True, 'max_retries': 3}


def test_resolve_classic_queues_add_no_settings():
    io = cw.resolve_groups([{'name': 'io', 'queues': ['io']}], dict(OPTIONS, broker=RABBITMQ))['groups'][0]
    assert 'CELERYOPS_CELERY_SETTINGS' not in io['environment']


def test_resolve_refuses_autoscale_with_quorum_queues_naming_both_variables():
    groups = [{'name': 'io', 'queues': ['io'], 'pool_autoscale': '8,2'}, {'name': 'cpu', 'queues': ['cpu']}]
    result = cw.resolve_groups(groups, dict(OPTIONS, broker=QUORUM))
    assert result['groups'] == [] and len(result['errors']) == 1
    assert result['errors'][0].startswith('celery_worker_groups[0] (io).pool_autoscale is set, but'
                                          ' celery_broker_queue_type is quorum')
    # The same group on classic queues is fine.
    assert cw.resolve_groups(groups, dict(OPTIONS, broker=RABBITMQ))['errors'] == []


@pytest.mark.parametrize('options, groups, where', [
    ({'settings': {'task_default_queue_type': 'classic'}}, [{'name': 'io', 'queues': ['io']}],
     'celery_worker_settings sets task_default_queue_type'),
    ({}, [{'name': 'io', 'queues': ['io'], 'settings': {'broker_transport_options': {'confirm_publish': False}}}],
     'celery_worker_groups[0] (io).settings sets broker_transport_options.confirm_publish to false'),
])
def test_resolve_refuses_settings_that_undo_quorum_queues(options, groups, where):
    result = cw.resolve_groups(groups, dict(OPTIONS, broker=QUORUM, **options))
    assert result['groups'] == [] and any(error.startswith(where) for error in result['errors'])


# --- renamed group keys (docs/naming.md) -------------------------------------

PUBLIC_GROUPS = [
    {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 4, 'time_limit_s': 120,
     'soft_time_limit_s': 100, 'watchdog_s': 20, 'stop_timeout_s': 200, 'start_timeout_s': 60, 'backlog_per_worker': 8},
    {'name': 'cpu', 'queues': ['cpu'], 'max_memory_per_child_mb': 150, 'pool_autoscale': '4,2',
     'k8s_autoscaling': 'keda'},
]


def test_public_keys_are_read_in_the_codes_units():
    groups, deprecations, errors = cw.public_groups(PUBLIC_GROUPS)
    assert (deprecations, errors) == ([], [])
    assert groups[0] == {'name': 'io', 'queues': ['io'], 'pool': 'threads', 'concurrency': 4, 'time_limit': 120,
                         'soft_time_limit': 100, 'watchdog': 20, 'stop_timeout': 200, 'start_timeout': 60,
                         'autoscale_queue_length': 8}
    assert groups[1]['max_memory_per_child'] == 150 * 1024 and groups[1]['autoscale'] == '4,2'
    assert groups[1]['autoscaling'] == 'keda'
    argv = cw.resolve_groups(PUBLIC_GROUPS, {'app_module': 'shop.celery:app'})['groups'][1]['argv']
    assert '--max-memory-per-child=153600' in argv and '--autoscale=4,2' in argv


def test_old_keys_still_work_and_are_named():
    old = [{'name': 'io', 'queues': ['io'], 'pool': 'threads', 'time_limit': 120, 'autoscaling': 'hpa'},
           {'name': 'cpu', 'queues': ['cpu'], 'max_memory_per_child': 200000}]
    groups, deprecations, errors = cw.public_groups(old)
    assert errors == [] and groups == old
    assert deprecations == ['celery_worker_groups[0] (io).time_limit is deprecated: use time_limit_s',
                            'celery_worker_groups[0] (io).autoscaling is deprecated: use k8s_autoscaling',
                            'celery_worker_groups[1] (cpu).max_memory_per_child is deprecated: use '
                            'max_memory_per_child_mb (MiB, not KiB)']
    result = cw.resolve_groups(old, {'app_module': 'shop.celery:app'})
    assert result['deprecations'] == deprecations
    assert '--max-memory-per-child=200000' in result['groups'][1]['argv']


def test_both_names_of_a_key_are_refused():
    result = cw.resolve_groups([{'name': 'io', 'queues': ['io'], 'watchdog': 20, 'watchdog_s': 30}],
                               {'app_module': 'shop.celery:app'})
    assert result['errors'] == ['celery_worker_groups[0] (io) sets both watchdog_s and watchdog (its deprecated '
                                'name): set only watchdog_s']
    assert result['groups'] == []


@pytest.mark.parametrize('group, fragment', [
    ({'name': 'io', 'queues': ['io'], 'pool': 'threads', 'max_memory_per_child_mb': 100},
     '(io).max_memory_per_child_mb only works with the prefork pool'),
    ({'name': 'io', 'queues': ['io'], 'soft_time_limit_s': 100, 'time_limit_s': 50},
     '(io).soft_time_limit_s (100) must be below time_limit_s (50)'),
    ({'name': 'io', 'queues': ['io'], 'pool_autoscale': '4,2', 'concurrency': 2},
     '(io) sets both pool_autoscale and concurrency'),
    ({'name': 'io', 'queues': ['io'], 'k8s_autoscaling': 'knative'}, '(io).k8s_autoscaling must be one of'),
    ({'name': 'io', 'queues': ['io'], 'backlog_per_worker': 0}, '(io).backlog_per_worker must be a whole number'),
    ({'name': 'io', 'queues': ['io'], 'settings': {'worker_max_memory_per_child': 1}},
     "use the worker group key 'max_memory_per_child_mb'"),
])
def test_errors_name_the_public_key(group, fragment):
    errors = cw.resolve_groups([group], {'app_module': 'shop.celery:app'})['errors']
    assert len(errors) == 1 and fragment in errors[0], errors
