"""Compose rollouts: a worker service surges one container at a time, each
ready first; a failed one is removed, the files restored, the old containers
untouched. A fake engine stands in for Docker (the compose scenario runs the
real one)."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_compose_rollout as cr
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_rollout import RolloutFailed

READY = ['CMD', 'python3', '/run/celeryops/probe.py', 'ready']


class FakeEngine(cr.Docker):
    """Containers per service with a config hash; a new container is ready
    unless the project's config for its service is 'bad'."""

    def __init__(self, model, containers, desired):
        super(FakeEngine, self).__init__(run=None, project_dir='/p', project_name='shop', files=['c.yml'],
                                         sleep=lambda s: None, clock=self._tick)
        self._model, self.desired, self.now = model, dict(desired), 0.0
        self.boxes = dict((cid, dict(service=svc, hash=h, running=True)) for svc, items in containers.items()
                          for cid, h in items)
        self.log, self.counter = [], 0

    def _tick(self):
        self.now += 0.5
        return self.now

    def model(self):
        return self._model

    def config_hash(self, service):
        return self.desired[service]

    def containers(self, service):
        return [(cid, box['hash']) for cid, box in self.boxes.items() if box['service'] == service]

    def _new(self, service):
        self.counter += 1
        cid = 'new%d' % self.counter
        bad = 'bad' in self.desired[service]
        self.boxes[cid] = dict(service=service, hash=self.desired[service], running=not bad)
        self.log.append('create %s %s' % (service, cid))
        return cid

    def scale_up(self, service, count, timeout):
        assert count == len(self.containers(service)) + 1
        self._new(service)

    def recreate(self, service, timeout):
        for cid, _hash in self.containers(service):
            del self.boxes[cid]
            self.log.append('remove %s' % cid)
        self._new(service)

    def stop_remove(self, container, grace):
        self.log.append('stop %s %ss' % (container, grace))
        del self.boxes[container]

    def remove(self, container):
        self.log.append('remove %s' % container)
        del self.boxes[container]

    def running(self, container, restarts=0):
        box = self.boxes[container]
        # 'flaky': passes its first health check, then crashes and is restarted by its policy.
        return box['running'] and not (box.get('checked') and 'flaky' in box['hash'])

    def restarts(self, container):
        return 0

    def restart(self, container, grace):
        self.log.append('restart %s %ss' % (container, grace))
        box = self.boxes[container]
        box['running'] = 'bad' not in box['hash']

    def check(self, container, test):
        assert test == READY
        self.boxes[container]['checked'] = True
        return self.boxes[container]['running']

    def logs(self, container, lines):
        return 'ImportError: boom redis://:pw@broker:6379/0\n'


MODEL = {
    'worker-io': {'labels': {'io.celeryops.component': 'worker'}, 'healthcheck': {'test': READY},
                  'stop_grace_period': '2m30s'},
    'beat': {'labels': {'io.celeryops.component': 'beat'}, 'healthcheck': {'test': READY}},
}


def test_a_worker_service_surges_one_container_at_a_time():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'h1')], 'beat': [('c', 'h1')]},
                        {'worker-io': 'h2', 'beat': 'h1'})
    result = cr.rollout(engine, restore=lambda backups: [])
    assert result['replaced'] == {'worker-io': 2} and result['recreated'] == []
    # one new, ready, then one old stopped with the grace period; never fewer
    assert engine.log == ['create worker-io new1', 'stop a 150.0s', 'create worker-io new2', 'stop b 150.0s']
    assert sorted(engine.boxes) == ['c', 'new1', 'new2']


def test_a_bad_worker_release_removes_the_new_container_and_restores_the_files():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'h1')]}, {'worker-io': 'bad', 'beat': 'h1'})
    restored = []
    with pytest.raises(RolloutFailed) as failure:
        cr.rollout(engine, restore=lambda backups: restored.extend(sorted(backups)) or sorted(backups),
                   backups={'/p/compose.worker.yml': '/p/compose.worker.yml.1~'}, secrets=['pw'])
    assert failure.value.result['failed_service'] == 'worker-io'
    assert 'service worker-io: a new container did not become ready (the container stopped or restarted)' in str(failure.value)
    assert 'ImportError: boom' in str(failure.value) and ':pw@' not in str(failure.value)
    assert restored == ['/p/compose.worker.yml']
    assert sorted(engine.boxes) == ['a', 'b']  # the old ones never stopped
    assert engine.log == ['create worker-io new1', 'remove new1']


def test_beat_is_recreated_and_put_back_when_it_fails():
    engine = FakeEngine(MODEL, {'beat': [('c', 'h1')]}, {'worker-io': 'h1', 'beat': 'bad'})

    def restore(backups):
        engine.desired['beat'] = 'h1'  # the old files are back
        return ['/p/compose.beat.yml']

    with pytest.raises(RolloutFailed) as failure:
        cr.rollout(engine, restore=restore, backups={'/p/compose.beat.yml': '/p/x~'})
    assert 'recreated from the previous files and ready' in str(failure.value)
    assert [box['hash'] for box in engine.boxes.values()] == ['h1']


def test_up_to_date_and_new_services_are_left_to_compose_up():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1')]}, {'worker-io': 'h1', 'beat': 'h2'})
    assert cr.rollout(engine, restore=lambda b: []) == {'changed': False, 'replaced': {}, 'recreated': []}
    assert engine.log == []


def test_check_mode_reports_and_touches_nothing():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'h1')], 'beat': [('c', 'h1')]},
                        {'worker-io': 'h2', 'beat': 'h2'})
    result = cr.rollout(engine, restore=lambda b: [], check_mode=True)
    assert result == {'changed': True, 'replaced': {'worker-io': 2}, 'recreated': ['beat']}
    assert engine.log == []


@pytest.mark.parametrize('value, seconds', [('90s', 90), ('1m30s', 90), ('2h', 7200), (None, 10), (5, 5),
                                            (150000000000, 150)])
def test_durations(value, seconds):
    assert cr._duration(value, 10) == seconds


def test_a_rolling_restart_goes_one_container_at_a_time_and_stops_at_the_first_that_fails():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'bad'), ('c', 'h1')], 'beat': [('d', 'h1')]},
                        {'worker-io': 'h1', 'beat': 'h1'})
    with pytest.raises(RolloutFailed) as failure:
        cr.rolling_restart(engine)
    assert engine.log == ['restart a 150.0s', 'restart b 150.0s']  # c never touched, beat is no worker
    assert failure.value.result['failed_service'] == 'worker-io'
    assert failure.value.result['restarted'] == ['a']
    assert 'did not come back ready' in str(failure.value)
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('c', 'h1')]}, {'worker-io': 'h1', 'beat': 'h1'})
    assert cr.rolling_restart(engine)['restarted'] == ['a', 'c']


def test_a_container_healthy_once_then_crashing_is_not_ready_and_the_old_ones_stay():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'h1')]}, {'worker-io': 'flaky', 'beat': 'h1'})
    with pytest.raises(RolloutFailed) as failure:
        cr.rollout(engine, restore=lambda backups: [])
    assert 'stopped or restarted within 3s of passing its health check' in str(failure.value)
    assert sorted(engine.boxes) == ['a', 'b'] and engine.log == ['create worker-io new1', 'remove new1']
    # Without the settle time the same container counts as ready: the old one would be stopped.
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1'), ('b', 'h1')]}, {'worker-io': 'flaky', 'beat': 'h1'})
    cr.rollout(engine, restore=lambda backups: [], settle=0)
    assert 'stop a 150.0s' in engine.log


def test_the_settle_time_is_waited_and_the_check_run_again():
    engine = FakeEngine(MODEL, {'worker-io': [('a', 'h1')]}, {'worker-io': 'h2', 'beat': 'h1'})
    slept, checks = [], []
    engine.sleep = slept.append
    check = engine.check
    engine.check = lambda container, test: checks.append(container) or check(container, test)
    cr.rollout(engine, restore=lambda backups: [], settle=3)
    assert slept == [3] and checks == ['new1', 'new1']
