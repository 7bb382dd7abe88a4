"""The status rules (celeryops.deploy.status): a row is healthy only when the
process runs, its heartbeat is fresh and says it works, and its node answers;
each way of being unhealthy is named; secrets never reach the table."""

import json

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_status as st

NOW = 1000.0
RUNNING = {'name': 'worker-io@1', 'state': 'active/running', 'running': True, 'restarts': 0, 'uptime': 3700.0,
           'release': '04e123316887'}
FRESH = {'alive': True, 'state': 'consuming', 'time': NOW - 0.5, 'tick': NOW - 0.5}
REPLY = {'ping': ['io1@web1'], 'active': {'io1@web1': 2}, 'reserved': {'io1@web1': 1},
         'pool': {'io1@web1': {'implementation': 'celery.concurrency.thread:TaskPool', 'concurrency': 25}}}


def test_a_healthy_worker():
    row = st.worker_row(RUNNING, 'io', FRESH, NOW, 'io1@web1', REPLY)
    assert row['healthy'] and row['ready'] and row['reasons'] == []
    assert (row['ping'], row['active'], row['reserved'], row['pool'], row['concurrency']) == (True, 2, 1, 'threads', 25)
    assert row['heartbeat_age'] == 0.5


@pytest.mark.parametrize('unit, heartbeat, node, reason', [
    (dict(RUNNING, state='inactive/dead', running=False), None, 'io1@web1', 'worker is inactive/dead'),
    (RUNNING, None, 'io1@web1', 'no heartbeat file'),
    # frozen (SIGSTOP): the file stops changing
    (RUNNING, dict(FRESH, time=NOW - 14.2), 'io1@web1', 'heartbeat 14.2s old'),
    (RUNNING, dict(FRESH, state='reconnecting'), 'io1@web1', 'heartbeat says reconnecting'),
    (RUNNING, FRESH, 'io2@web1', 'node io2@web1 did not answer the ping'),
])
def test_each_unhealthy_worker_says_why(unit, heartbeat, node, reason):
    row = st.worker_row(unit, 'io', heartbeat, NOW, node, REPLY)
    assert not row['healthy']
    # READY is the roles' readiness (the heartbeat): a node that does not answer can still be ready
    assert row['ready'] is ('ping' in reason)
    assert any(reason in text for text in row['reasons']), row['reasons']


def test_the_heartbeat_age_limit_is_a_setting():
    stale = dict(FRESH, time=NOW - 14.2)
    assert not st.worker_row(RUNNING, 'io', stale, NOW, 'io1@web1', REPLY)['healthy']
    assert st.worker_row(RUNNING, 'io', stale, NOW, 'io1@web1', REPLY, max_age=20)['healthy']


def test_a_stopped_worker_is_not_also_blamed_for_its_ping():
    row = st.worker_row(dict(RUNNING, state='inactive/dead', running=False), 'io', None, NOW, 'io1@web1', {})
    assert row['reasons'] == ['worker is inactive/dead']


def test_the_broadcast_error_is_given_with_the_missing_ping():
    row = st.worker_row(RUNNING, 'io', FRESH, NOW, 'io1@web1', {'error': 'OperationalError: refused'})
    assert row['reasons'] == ['node io1@web1 did not answer the ping (OperationalError: refused)']


def test_beat_holding_the_lock_and_a_standby():
    unit = dict(RUNNING, name='beat')
    holder = st.beat_row(unit, dict(FRESH, state='running', tick=NOW - 1.5), NOW)
    standby = st.beat_row(unit, dict(FRESH, state='standby'), NOW)
    assert holder['healthy'] and holder['holds_lock'] is True and holder['last_tick_age'] == 1.5
    assert st.cell(holder, 'NODE') == 'holds lock, tick 1.5s ago'
    assert standby['healthy'] and standby['holds_lock'] is False
    stopped = st.beat_row(dict(unit, running=False, state='inactive/dead'), None, NOW)
    assert not stopped['healthy'] and stopped['holds_lock'] is None


def test_a_fresh_heartbeat_whose_loop_stopped_is_unhealthy():
    # the launcher's thread rewrites the file; `alive` says whether the loop it watches turns
    stuck = st.beat_row(dict(RUNNING, name='beat'), dict(FRESH, state='running', alive=False, tick=NOW - 900), NOW)
    assert not stuck['healthy'] and not stuck['ready']
    assert stuck['reasons'] == ['heartbeat says its loop stopped turning (last turn 900.0s ago)']
    assert st.cell(stuck, 'NODE') == '-, tick 900.0s ago'
    worker = st.worker_row(RUNNING, 'io', dict(FRESH, alive=False), NOW, 'io1@web1', REPLY)
    assert worker['reasons'][0].startswith('heartbeat says its loop stopped turning')


def test_a_host_in_a_group_with_nothing_deployed():
    rows = [st.worker_row(RUNNING, 'io', FRESH, NOW, 'io1@web1', REPLY)]
    assert st.expected_rows(rows, ['worker']) == []
    missing = st.expected_rows(rows, ['worker', 'flower'])
    assert [(row['kind'], row['healthy'], row['reasons']) for row in missing] == [
        ('flower', False, ['no flower is deployed here, but the host is in the celery_flower group'])]


def test_every_string_of_a_reply_is_scrubbed():
    reply = {'error': 'redis://:pw1@b', 'queues': {'io': {'error': 'x hunter22 y'}, 'cpu': {'messages': 3}},
             'ping': ['io1@a']}
    assert st.scrub_all(reply, ['hunter22']) == {
        'error': 'redis://:********@b', 'queues': {'io': {'error': 'x ******** y'}, 'cpu': {'messages': 3}},
        'ping': ['io1@a']}


def test_flower_needs_its_health_check_and_a_working_login():
    unit = dict(RUNNING, name='flower')
    good = {'with': {'status': 200}, 'without': {'status': 401}}
    assert st.flower_row(unit, {'status': 200}, good)['healthy']
    assert st.flower_row(unit, {'status': 200}, None)['healthy']  # authentication off
    assert st.flower_row(unit, {'error': 'refused'}, good)['reasons'] == ['/healthcheck answered refused']
    assert 'the login failed: 401' in st.flower_row(unit, {'status': 200}, dict(good, **{'with': {'status': 401}}))[
        'reasons'][0]
    assert '200 without credentials' in st.flower_row(unit, {'status': 200}, dict(good, without={'status': 200}))[
        'reasons'][0]


def test_queues():
    workers = [dict(st.worker_row(RUNNING, 'io', FRESH, NOW, 'io1@web1', REPLY))]
    rows = st.queue_rows({'io': {'messages': 3}, 'cpu': {'messages': 5000}, 'celery': {'error': 'boom'}},
                         {'io': ['io'], 'cpu': ['cpu'], 'celery': ['cpu']}, 1000, workers)
    by_name = dict((row['name'], row) for row in rows)
    assert by_name['io']['healthy'] and by_name['io']['ready_workers'] == 1
    assert by_name['cpu']['reasons'] == ['5000 messages waiting (more than 1000)']
    assert by_name['celery']['reasons'] == ['length unknown: boom']
    # messages and nobody healthy to take them
    stuck = st.queue_rows({'cpu': {'messages': 4}}, {'cpu': ['cpu']}, 1000, workers)[0]
    assert stuck['reasons'] == ['4 messages waiting and no healthy worker here consumes it']
    assert st.queue_rows({'cpu': {'messages': 0}}, {'cpu': ['cpu']}, 1000, workers)[0]['healthy']


def test_parse_show_keeps_repeated_properties():
    text = ('Id=a.service\nActiveState=active\nEnvironmentFiles=/e/1.env (ignore_errors=no)\n'
            'EnvironmentFiles=/e/2.env (ignore_errors=yes)\n\nId=b.service\nActiveState=inactive\n')
    units = st.parse_show(text)
    assert [u['Id'] for u in units] == ['a.service', 'b.service']
    assert units[0]['EnvironmentFiles'].splitlines() == ['/e/1.env (ignore_errors=no)', '/e/2.env (ignore_errors=yes)']


@pytest.mark.parametrize('value, expected', [('@1796615499', 1796615499.0), ('', None), ('n/a', None)])
def test_unix_time(value, expected):
    assert st.unix_time(value) == expected


@pytest.mark.parametrize('target, expected', [
    ('/opt/celery/shop/releases/04e123316887/venv', '04e123316887'),
    ('/srv/own-venv', '/srv/own-venv'),
    ('', '-'),
])
def test_release_of(target, expected):
    assert st.release_of(target) == expected


@pytest.mark.parametrize('seconds, text', [(None, '-'), (42, '42s'), (420, '7m'), (3700, '1h'), (200000, '2d')])
def test_duration(seconds, text):
    assert st.duration(seconds) == text


def test_the_table_marks_unhealthy_rows_and_masks_secrets():
    healthy = st.worker_row(RUNNING, 'io', FRESH, NOW, 'io1@web1', REPLY)
    frozen = st.worker_row(dict(RUNNING, name='worker-io@2'), 'io', dict(FRESH, time=NOW - 30), NOW, 'io2@web1',
                           REPLY)
    frozen['log'] = ['Connected to redis://:s3cret@broker:6379/0', 'flower password hunter2']
    queues = st.queue_rows({'io': {'messages': 0}}, {'io': ['io']}, 1000, [healthy, frozen])
    lines = st.table('web1', 'shop', [healthy, frozen], queues, secrets=['hunter2'])
    text = '\n'.join(lines)
    assert lines[0] == 'web1 / shop: UNHEALTHY'
    assert lines[1].split() == ['NAME', 'STATE', 'READY', 'RESTARTS', 'UP', 'RELEASE', 'HEARTBEAT', 'NODE', 'PING',
                                'ACTIVE', 'RESERVED', 'POOL']
    assert lines[2].startswith('ok  worker-io@1') and lines[3].startswith('!!  worker-io@2')
    assert '!! worker worker-io@2: heartbeat 30.0s old' in text
    assert 's3cret' not in text and 'hunter2' not in text and '********' in text
    assert st.problems('web1', [healthy, frozen], queues) == [
        'web1: worker worker-io@2: heartbeat 30.0s old (frozen or hung: more than 10.0s); '
        'node io2@web1 did not answer the ping']
    # the same rows as JSON: nothing there that json cannot write
    json.dumps([healthy, frozen, queues])


def test_the_inspect_script_compiles():
    compile(st.INSPECT_SCRIPT, 'inspect', 'exec')
