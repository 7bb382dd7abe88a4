"""Gated rollouts: one instance at a time, the first failure put back, the
rest untouched. Driven with a fake host whose units fail on releases named
'bad' (the Molecule systemd scenario does the same with real units)."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_rollout as cr


class FakeHost(cr.System):
    """Units whose start fails while their release link points at a 'bad' release
    or while a 'bad' file is in place; records every action in order."""

    def __init__(self, units, links=None, files=None, flaky_after_ready=()):
        super(FakeHost, self).__init__(run=self._run, sleep=lambda s: None, clock=lambda: 1000.0)
        self.units = dict((unit, {'active': active, 'pid': 100 + index}) for index, (unit, active) in
                          enumerate(units.items()))
        self.links = dict(links or {})
        self.files = dict(files or {})  # path -> content
        self.flaky = set(flaky_after_ready)
        self.log = []
        self.next_pid = 500

    def unit_link(self, unit):
        name = unit.split('.')[0]
        return self.links.get('/i/%s' % name)

    def broken(self, unit):
        own = [content for content in self.files.values() if content.startswith(unit.split('@')[0])]
        return 'bad' in (self.unit_link(unit) or '') or any('bad' in content for content in own)

    def _run(self, argv, timeout):
        self.log.append(' '.join(argv))
        verb, unit = argv[1], argv[-1]
        if argv[0] == 'journalctl':
            return 0, 'Traceback\nImportError: boom redis://:s3cret@broker:6379/0\n', ''
        if verb == 'show':
            state = self.units.get(unit, {'active': False, 'pid': 0})
            return 0, 'ActiveState=%s\nSubState=%s\nMainPID=%d\nNRestarts=0\nResult=success\n' % (
                'active' if state['active'] else 'failed', 'running' if state['active'] else 'failed',
                state['pid'] if state['active'] else 0), ''
        if verb == 'restart':
            state = self.units.setdefault(unit, {'active': False, 'pid': 0})
            if self.broken(unit):
                state['active'] = False
                return 1, '', 'Job for %s failed because a timeout was exceeded.' % unit
            self.next_pid += 1
            state.update(active=True, pid=self.next_pid)
            return 0, '', ''
        if verb == 'stop':
            self.units[unit]['active'] = False
        return 0, '', ''

    def show(self, unit):
        before = list(self.log)
        props = super(FakeHost, self).show(unit)
        if unit in self.flaky and before and before[-1].startswith('systemctl show') \
                and any(line.startswith('systemctl restart') for line in before):
            # the look after the settle time: it crashed and systemd restarted it
            props['MainPID'] = '999'
        return props

    def readlink(self, path):
        return self.links.get(path)

    def set_link(self, path, target):
        self.log.append('link %s -> %s' % (path, target))
        self.links[path] = target

    def remove(self, path):
        self.log.append('rm %s' % path)
        self.links.pop(path, None)
        self.files.pop(path, None)

    def restore(self, path, backup):
        self.log.append('restore %s' % path)
        self.files[path] = self.files.pop(backup)

    def exists(self, path):
        return path in self.files or path in self.links


def instances(n, target, unit='w-io', **extra):
    return [dict(unit='%s@%d.service' % (unit, i), link='/i/%s@%d' % (unit, i), target=target, **extra)
            for i in range(1, n + 1)]


def restarts(host):
    return [line.split()[-1] for line in host.log if line.startswith('systemctl restart')]


def test_a_good_release_moves_every_instance_one_at_a_time():
    host = FakeHost({'w-io@1.service': True, 'w-io@2.service': True, 'w-io@3.service': True},
                    links={'/i/w-io@%d' % i: '/r/old/venv' for i in (1, 2, 3)})
    result = cr.rollout(instances(3, '/r/new/venv'), host)
    assert result['moved'] == ['w-io@1.service', 'w-io@2.service', 'w-io@3.service']
    assert all(link == '/r/new/venv' for link in host.links.values())
    # each link flips right before its own restart, never earlier
    order = [line for line in host.log if line.startswith(('link', 'systemctl restart'))]
    assert order == ['link /i/w-io@1 -> /r/new/venv', 'systemctl restart w-io@1.service',
                     'link /i/w-io@2 -> /r/new/venv', 'systemctl restart w-io@2.service',
                     'link /i/w-io@3 -> /r/new/venv', 'systemctl restart w-io@3.service']


def test_nothing_to_do_changes_nothing():
    host = FakeHost({'w-io@1.service': True}, links={'/i/w-io@1': '/r/new/venv'})
    result = cr.rollout(instances(1, '/r/new/venv'), host)
    assert result == {'changed': False, 'moved': [], 'started': [], 'unchanged': ['w-io@1.service']}
    assert restarts(host) == []


def test_a_bad_release_stops_at_the_first_instance_and_puts_it_back():
    host = FakeHost({'w-io@1.service': True, 'w-io@2.service': True, 'w-io@3.service': True},
                    links={'/i/w-io@%d' % i: '/r/old/venv' for i in (1, 2, 3)})
    with pytest.raises(cr.RolloutFailed) as failure:
        cr.rollout(instances(3, '/r/bad/venv'), host, secrets=['s3cret'])
    message, result = str(failure.value), failure.value.result
    assert result['failed_unit'] == 'w-io@1.service'
    assert 'w-io@1.service did not become ready' in message
    assert 'back on the previous release and ready' in message
    assert 'ImportError: boom' in message
    assert 's3cret' not in message and 's3cret' not in ' '.join(result['journal'])
    # put back, and no other instance was touched
    assert host.links == {'/i/w-io@%d' % i: '/r/old/venv' for i in (1, 2, 3)}
    assert restarts(host) == ['w-io@1.service', 'w-io@1.service']
    assert host.units['w-io@1.service']['active']


def test_settings_files_are_restored_unless_an_instance_already_started_with_them():
    files = {'/etc/w-io.env': 'w-io bad', '/etc/w-io.env~': 'w-io good'}
    host = FakeHost({'w-io@1.service': True, 'w-io@2.service': True}, files=files)
    items = [dict(unit='w-io@%d.service' % i, restart=True, files=['/etc/w-io.env']) for i in (1, 2)]
    with pytest.raises(cr.RolloutFailed) as failure:
        cr.rollout(items, host, backups={'/etc/w-io.env': '/etc/w-io.env~'})
    assert failure.value.result['restored'] == ['/etc/w-io.env']
    assert host.files == {'/etc/w-io.env': 'w-io good'}
    assert restarts(host) == ['w-io@1.service', 'w-io@1.service']


def test_a_file_proven_by_an_earlier_instance_stays():
    host = FakeHost({'a@1.service': True, 'b@1.service': True},
                    links={'/i/a@1': '/r/old/venv', '/i/b@1': '/r/old/venv'},
                    files={'/etc/shared.env': 'x', '/etc/shared.env~': 'y'})
    items = [dict(unit='a@1.service', link='/i/a@1', target='/r/new/venv', files=['/etc/shared.env']),
             dict(unit='b@1.service', link='/i/b@1', target='/r/bad/venv', files=['/etc/shared.env'])]
    with pytest.raises(cr.RolloutFailed) as failure:
        cr.rollout(items, host, backups={'/etc/shared.env': '/etc/shared.env~'})
    assert failure.value.result['restored'] == []
    assert failure.value.result['moved'] == ['a@1.service']
    assert host.links == {'/i/a@1': '/r/new/venv', '/i/b@1': '/r/old/venv'}


def test_success_removes_the_backups():
    host = FakeHost({'w-io@1.service': True}, files={'/etc/w.env': 'new', '/etc/w.env~': 'old'})
    cr.rollout([dict(unit='w-io@1.service', restart=True, files=['/etc/w.env'])], host,
               backups={'/etc/w.env': '/etc/w.env~'})
    assert host.files == {'/etc/w.env': 'new'}


def test_a_new_instance_that_fails_is_stopped_not_left_looping():
    host = FakeHost({'w-io@1.service': True}, links={'/i/w-io@1': '/r/bad/venv'})
    items = [dict(unit='w-io@1.service', link='/i/w-io@1', target='/r/bad/venv'),
             dict(unit='w-io@2.service', link='/i/w-io@2', target='/r/bad/venv')]
    with pytest.raises(cr.RolloutFailed) as failure:
        cr.rollout(items, host)
    assert failure.value.result['failed_unit'] == 'w-io@2.service'
    assert 'systemctl stop w-io@2.service' in host.log
    assert '/i/w-io@2' not in host.links


def test_an_instance_that_dies_right_after_ready_is_a_failure():
    host = FakeHost({'w-io@1.service': True}, links={'/i/w-io@1': '/r/old/venv'},
                    flaky_after_ready=['w-io@1.service'])
    with pytest.raises(cr.RolloutFailed) as failure:
        cr.rollout(instances(1, '/r/new/venv'), host)
    assert 'stopped or restarted within 3s of becoming ready' in str(failure.value)


def test_check_mode_reports_and_touches_nothing():
    host = FakeHost({'w-io@1.service': True, 'w-io@2.service': False},
                    links={'/i/w-io@1': '/r/old/venv', '/i/w-io@2': '/r/new/venv'})
    result = cr.rollout(instances(2, '/r/new/venv'), host, check_mode=True)
    assert result['changed'] and result['moved'] == ['w-io@1.service'] and result['started'] == ['w-io@2.service']
    assert not [line for line in host.log if not line.startswith('systemctl show')]


@pytest.mark.parametrize('text, expected', [
    ('redis://:pw@h:6379/0', 'redis://:********@h:6379/0'),
    ('amqp://user:pw@h//', 'amqp://user:********@h//'),
    ('token=abc123 here', 'token=******** here'),
    ('no secret', 'no secret'),
])
def test_scrub(text, expected):
    assert cr.scrub(text, secrets=['abc123']) == expected


def test_prune_keeps_the_newest_and_everything_in_use():
    releases = [('/r/a', 1), ('/r/b', 2), ('/r/c', 3), ('/r/d', 4), ('/r/e', 5)]
    assert cr.prune(releases, referenced={'/r/a'}, keep=2) == ['/r/c', '/r/b']
    assert cr.prune(releases, referenced=set(), keep=10) == []
