"""Readiness, watchdog and rollout inputs worked out from the groups, the
sandbox probe's reading of systemd-run, and Flower's health URL."""

import pytest

from ansible_collections.celeryops.deploy.plugins.plugin_utils import _celery_cmd as cmd
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw
from ansible_collections.celeryops.deploy.plugins.module_utils import _systemd_unit as su

APP = 'shop.celery:app'


def normalized(*groups, **kwargs):
    return cw.normalize_groups(list(groups), APP, **kwargs)


@pytest.mark.parametrize('group, expected', [
    ({'pool': 'prefork'}, 60),
    ({'pool': 'threads'}, 60),
    ({'pool': 'solo'}, 0),                        # a task may hold the loop as long as it likes
    ({'pool': 'solo', 'time_limit': 100}, 130),   # ... up to its time limit
    ({'pool': 'gevent', 'time_limit': 10}, 40),
    ({'pool': 'eventlet'}, 0),
    ({'pool': 'prefork', 'watchdog': 0}, 0),      # the group turns it off
    ({'pool': 'solo', 'watchdog': 15}, 15),
])
def test_watchdog_follows_the_pool(group, expected):
    item = normalized(dict(group, name='g', queues=['q']))[0]
    assert item['watchdog'] == expected


def test_start_timeout_default_and_per_group():
    items = normalized({'name': 'a', 'queues': ['q']}, {'name': 'b', 'queues': ['q'], 'start_timeout': 300},
                       start_timeout=45)
    assert [item['start_timeout'] for item in items] == [45, 300]


@pytest.mark.parametrize('value', [-1, 'x', 1.5, True])
def test_a_bad_watchdog_is_named(value):
    errors = cw.group_errors([{'name': 'io', 'queues': ['q'], 'watchdog': value}])
    assert errors and 'celery_worker_groups[0] (io).watchdog' in errors[0]


INSTALL = {'venv': '/opt/celery/shop/releases/abc/venv', 'restart_all': False, 'files': [], 'backups': {}}


def result(name, dest, changed, backup=None):
    item = {'item': {'name': name}, 'dest': dest, 'changed': changed}
    if backup:
        item['backup_file'] = backup
    return item


def test_rollout_lists_every_instance_with_its_link_and_timeout():
    groups = normalized({'name': 'io', 'queues': ['q'], 'instances': 2},
                        {'name': 'cpu', 'queues': ['c'], 'time_limit': 60})
    plan = cw.rollout(groups, 'shop', '/opt/celery/shop', INSTALL)
    assert [(i['unit'], i['link'], i['restart'], i['timeout']) for i in plan['instances']] == [
        ('shop-worker-io@1.service', '/opt/celery/shop/instances/worker-io@1', False, 300 + 90 + 30),
        ('shop-worker-io@2.service', '/opt/celery/shop/instances/worker-io@2', False, 300 + 90 + 30),
        ('shop-worker-cpu@1.service', '/opt/celery/shop/instances/worker-cpu@1', False, 90 + 90 + 30),
    ]
    assert all(i['target'] == INSTALL['venv'] for i in plan['instances'])
    assert plan['backups'] == {}


def test_rollout_restarts_only_the_groups_whose_files_changed():
    groups = normalized({'name': 'io', 'queues': ['q']}, {'name': 'cpu', 'queues': ['c']})
    plan = cw.rollout(groups, 'shop', '/b', INSTALL, [
        result('io', '/etc/celery/shop/worker-io.env', True, '/etc/celery/shop/worker-io.env.1~'),
        result('cpu', '/etc/celery/shop/worker-cpu.env', False),
    ])
    io, cpu = plan['instances']
    assert io['restart'] and io['files'] == ['/etc/celery/shop/worker-io.env']
    assert not cpu['restart'] and cpu['files'] == []
    assert plan['backups'] == {'/etc/celery/shop/worker-io.env': '/etc/celery/shop/worker-io.env.1~'}


def test_a_changed_shared_env_restarts_every_group_and_travels_with_each():
    install = dict(INSTALL, restart_all=True, files=['/etc/celery/shop/celery.env'],
                   backups={'/etc/celery/shop/celery.env': '/etc/celery/shop/celery.env.2~'})
    plan = cw.rollout(normalized({'name': 'io', 'queues': ['q']}, {'name': 'cpu', 'queues': ['c']}),
                      'shop', '/b', install)
    assert all(i['restart'] and i['files'] == ['/etc/celery/shop/celery.env'] for i in plan['instances'])
    assert plan['backups'] == install['backups']


def test_unit_rollout_of_beat():
    plan = cw.unit_rollout('shop-beat.service', '/b/instances/beat', INSTALL,
                           [{'dest': '/etc/systemd/system/shop-beat.service', 'changed': True,
                             'backup_file': '/etc/systemd/system/shop-beat.service.3~'},
                            {'dest': '/etc/celery/shop/beat.env', 'changed': False}], timeout=180)
    assert plan['instances'] == [{'unit': 'shop-beat.service', 'link': '/b/instances/beat', 'target': INSTALL['venv'],
                                  'restart': True, 'files': ['/etc/systemd/system/shop-beat.service'],
                                  'timeout': 180}]
    assert plan['backups'] == {'/etc/systemd/system/shop-beat.service': '/etc/systemd/system/shop-beat.service.3~'}
    unchanged = cw.unit_rollout('shop-beat.service', '/b/instances/beat', INSTALL, [])
    assert unchanged['instances'][0]['restart'] is False


@pytest.mark.parametrize('address, prefix, url', [
    ('127.0.0.1', '', 'http://127.0.0.1:5555/healthcheck'),
    ('0.0.0.0', '/flower/', 'http://127.0.0.1:5555/flower/healthcheck'),
    ('::', 'f', 'http://[::1]:5555/f/healthcheck'),
    ('fd00::5', '', 'http://[fd00::5]:5555/healthcheck'),
    ('10.0.0.5', '', 'http://10.0.0.5:5555/healthcheck'),
])
def test_flower_health_url(address, prefix, url):
    assert cmd.flower_health_url(address, 5555, prefix) == url


def test_sandbox_probe_tries_all_at_once_then_names_the_refused():
    tried = []

    def run(properties):
        tried.append(properties)
        if any(prop.startswith('PrivateUsers=yes') for prop in properties):
            return 217, ''
        if properties == ['ProcSubset=pid']:
            return 1, 'Unknown assignment: ProcSubset=pid'  # cannot be probed: not reported
        return 0, ''

    directives = {'PrivateUsers': True, 'ProtectSystem': 'strict', 'ProcSubset': 'pid', 'Gone': None}
    assert su.refused_directives(directives, run) == ['PrivateUsers']
    assert tried[0] == ['PrivateUsers=yes', 'ProcSubset=pid', 'ProtectSystem=strict']
    assert tried[-1] == ['ProtectSystem=strict']  # what is left starts


def test_sandbox_probe_finds_a_refusal_only_a_combination_causes():
    # PrivateUsers= with ProtectProc= fails in a container whose /proc is
    # masked, each alone works: leaving out PrivateUsers= is enough.
    def run(properties):
        names = set(prop.split('=')[0] for prop in properties)
        return (217, '') if set(['PrivateUsers', 'ProtectProc']) <= names else (0, '')

    directives = {'PrivateUsers': True, 'ProtectProc': 'invisible', 'ProtectSystem': 'strict', 'PrivateTmp': True}
    assert su.refused_directives(directives, run) == ['PrivateUsers']


def test_sandbox_probe_reports_everything_when_nothing_helps():
    # Any two together fail: no single one left out makes the rest start.
    directives = {'PrivateTmp': True, 'ProtectSystem': 'strict', 'ProtectHome': True}
    assert su.refused_directives(directives, lambda props: (1, '') if len(props) > 1 else (0, '')) == [
        'PrivateTmp', 'ProtectHome', 'ProtectSystem']


def test_sandbox_probe_one_run_when_the_host_honours_all():
    tried = []
    assert su.refused_directives({'PrivateTmp': True}, lambda props: tried.append(props) or (0, '')) == []
    assert len(tried) == 1


def test_rollout_from_check_mode_results_without_dest():
    groups = normalized({'name': 'io', 'queues': ['q']})
    plan = cw.rollout(groups, 'shop', '/b', INSTALL, [{'item': {'name': 'io'}, 'changed': True}])
    # It would restart (check mode says so); no file to restore is known.
    assert plan['instances'][0]['restart'] is True and plan['instances'][0]['files'] == []


def test_rollout_from_censored_results():
    groups = normalized({'name': 'io', 'queues': ['q']})
    censored = {'item': {'name': 'io'}, 'changed': True, 'invocation': {'module_args': 'VALUE_SPECIFIED_IN_NO_LOG'}}
    assert cw.rollout(groups, 'shop', '/b', INSTALL, [censored])['instances'][0]['restart'] is True
    assert cw.unit_rollout('b.service', '/b/i', INSTALL, [{'changed': True, 'invocation': 'x'}])['instances'][0][
        'restart'] is True


def test_sandbox_probe_key_changes_with_what_the_answer_depends_on():
    base = dict(directives={'PrivateUsers': True, 'ProtectSystem': 'strict'}, user='shop',
                systemd_version='systemd 252 (252.39-1~deb12u1)', kernel='6.1.0-40-amd64',
                boot_id='5d8c...', init_started='1234')
    key = su.probe_key(**base)
    assert su.probe_key(**base) == key
    for name, value in (('directives', {'PrivateUsers': False, 'ProtectSystem': 'strict'}), ('user', 'nobody'),
                        ('systemd_version', 'systemd 257'), ('kernel', '6.12.0'), ('boot_id', 'other'),
                        ('init_started', '99999')):
        assert su.probe_key(**dict(base, **{name: value})) != key, name


def test_sandbox_cache_answers_only_for_its_key(tmp_path):
    path = str(tmp_path / 'cache' / 'systemd-sandbox.json')
    assert su.cached_refusals(path, 'k1') is None
    su.save_refusals(path, 'k1', ['PrivateUsers'])
    assert su.cached_refusals(path, 'k1') == ['PrivateUsers']
    assert su.cached_refusals(path, 'k2') is None
    su.save_refusals(path, 'k2', [])
    assert su.cached_refusals(path, 'k2') == [] and su.cached_refusals(path, 'k1') is None
    with open(path, 'w') as handle:
        handle.write('{not json')
    assert su.cached_refusals(path, 'k2') is None
