"""celeryops-celery.py tells systemd (and the probes) the truth: READY=1 only
once a worker consumes, WATCHDOG=1 only while its loop turns or while it
reconnects to a lost broker, and a heartbeat file the probes can read.

Real Celery workers and beat against a real redis-server on a free loopback
port; the test plays systemd's side of the notify protocol (a datagram
socket named in $NOTIFY_SOCKET). Every wait is bounded.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

FILES = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))),
                     'roles', 'celery_common', 'files')
LAUNCHER = os.path.join(FILES, 'celeryops-celery.py')

APP = (
    'from celery import Celery\n'
    'app = Celery("hbapp")\n'
    'app.conf.update(broker_connection_retry_on_startup=True, worker_hijack_root_logger=False,\n'
    '                beat_schedule={"t": {"task": "hbapp.t", "schedule": 3.0}})\n'
    '@app.task(name="hbapp.t")\n'
    'def t():\n'
    '    return 1\n'
)


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class Redis(object):
    def __init__(self, workdir):
        exe = shutil.which('redis-server')
        if not exe:
            pytest.fail('redis-server is not installed (make unit installs it)')
        self.exe, self.workdir, self.port, self.proc = exe, workdir, free_port(), None

    def start(self):
        self.proc = subprocess.Popen([self.exe, '--port', str(self.port), '--bind', '127.0.0.1', '--save', '',
                                      '--appendonly', 'no', '--dir', str(self.workdir)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while time.time() < deadline:
            try:
                socket.create_connection(('127.0.0.1', self.port), timeout=0.5).close()
                return
            except OSError:
                time.sleep(0.1)
        raise AssertionError('redis-server did not listen on port %d' % self.port)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


class Notify(object):
    """systemd's end of sd_notify: collects (time, message) datagrams."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)
        self.messages = []

    def drain(self, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append((time.time(), data.decode()))

    def wait_for(self, text, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            self.drain(0.2)
            if any(text in message for _at, message in self.messages):
                return True
        return False

    def count(self, text, since):
        return sum(1 for at, message in self.messages if at >= since and text in message)


@pytest.fixture
def redis(tmp_path):
    server = Redis(tmp_path)
    server.start()
    yield server
    server.stop()


def launch(tmp_path, redis, notify, *argv, watchdog_usec=6000000, settings=None):
    (tmp_path / 'hbapp.py').write_text(APP)
    env = dict(os.environ, NOTIFY_SOCKET=notify.path, WATCHDOG_USEC=str(watchdog_usec),
               CELERY_BROKER_URL='redis://127.0.0.1:%d/0' % redis.port,
               CELERYOPS_HEARTBEAT_FILE=str(tmp_path / 'heartbeat.json'))
    env.pop('CELERYOPS_CELERY_SETTINGS', None)
    if settings:
        env['CELERYOPS_CELERY_SETTINGS'] = json.dumps(settings)
    return subprocess.Popen([sys.executable, LAUNCHER, '-A', 'hbapp'] + list(argv), cwd=str(tmp_path), env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def stop(proc):
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGCONT)
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)


def heartbeat(tmp_path):
    with open(str(tmp_path / 'heartbeat.json')) as handle:
        return json.load(handle)


def wait_heartbeat(tmp_path, notify, state, seconds):
    """The heartbeat file once it says ``state`` (it is rewritten every second)."""
    deadline = time.time() + seconds
    record = {}
    while time.time() < deadline:
        try:
            record = heartbeat(tmp_path)
        except (OSError, ValueError):
            record = {}
        if record.get('state') == state:
            return record
        notify.drain(0.3)
    return record


@pytest.mark.parametrize('pool', ['prefork', 'threads'])
def test_worker_ready_watchdog_outage_and_wedge(tmp_path, redis, pool):
    notify = Notify(tmp_path / 'notify.sock')
    proc = launch(tmp_path, redis, notify, 'worker', '--pool=%s' % pool, '--concurrency=2', '--without-mingle',
                  '--without-gossip', '--loglevel=INFO')
    try:
        assert notify.wait_for('READY=1', 60), proc.stderr.read1().decode() if proc.poll() is not None else 'no READY'
        record = wait_heartbeat(tmp_path, notify, 'consuming', 5)
        assert record['state'] == 'consuming' and record['alive'] is True
        # The loop turns: the watchdog hears from the worker every second or so.
        since = time.time()
        notify.drain(4)
        assert notify.count('WATCHDOG=1', since) >= 3

        # Broker outage: the worker reconnects on its own; it keeps vouching.
        redis.stop()
        # Bounded, with room for a loaded machine: the prefork worker has been
        # seen to take over 20 s to notice the lost connection while the
        # other core ran a Molecule scenario (one failure in six full runs).
        assert notify.wait_for('STATUS=Reconnecting', 60), [message for _at, message in notify.messages[-5:]]
        since = time.time()
        notify.drain(8)
        assert notify.count('WATCHDOG=1', since) >= 6
        assert heartbeat(tmp_path)['state'] == 'reconnecting'
        redis.start()
        assert wait_heartbeat(tmp_path, notify, 'consuming', 60)['state'] == 'consuming'

        # Wedged (SIGSTOP): not a single WATCHDOG=1 while it is stopped.
        os.killpg(proc.pid, signal.SIGSTOP)
        notify.drain(0.5)  # a datagram already in flight
        since = time.time()
        notify.drain(4)
        assert notify.count('WATCHDOG=1', since) == 0
        os.killpg(proc.pid, signal.SIGCONT)
        since = time.time()
        notify.drain(4)
        assert notify.count('WATCHDOG=1', since) >= 2
    finally:
        stop(proc)
    notify.drain(1)
    assert any('STOPPING=1' in message for _at, message in notify.messages)


def test_worker_is_not_ready_without_a_broker(tmp_path, redis):
    redis.stop()
    notify = Notify(tmp_path / 'notify.sock')
    proc = launch(tmp_path, redis, notify, 'worker', '--pool=solo', '--without-mingle', '--without-gossip')
    try:
        notify.drain(8)
        assert not any('READY=1' in message for _at, message in notify.messages)
        # Nothing was ever consumed: no watchdog ping vouches for it either.
        assert not any('WATCHDOG=1' in message for _at, message in notify.messages)
        redis.start()
        assert notify.wait_for('READY=1', 60)
    finally:
        stop(proc)


def test_beat_is_ready_after_its_first_pass_and_marks_the_next(tmp_path, redis):
    notify = Notify(tmp_path / 'notify.sock')
    proc = launch(tmp_path, redis, notify, 'beat', '--schedule=%s' % (tmp_path / 'schedule'), '--max-interval=2')
    try:
        assert notify.wait_for('READY=1', 60)
        record = wait_heartbeat(tmp_path, notify, 'running', 5)
        assert record['kind'] == 'beat' and record['state'] == 'running' and record['alive'] is True
        assert record['next_tick'] is not None and record['next_tick'] - record['tick'] <= 2.01
    finally:
        stop(proc)


def test_redbeat_standby_is_ready_and_takes_over_when_the_holder_dies(tmp_path, redis):
    """Two beats with RedBeat (the settings the roles give them): the one that
    holds the lock schedules; the other is ready as a standby (READY=1,
    watchdog pings, heartbeat 'standby') and schedules within lock timeout +
    loop once the holder is killed with SIGKILL (no release of the lock)."""
    lock_timeout, loop = 6, 2
    settings = {'redbeat_lock_timeout': lock_timeout, 'redbeat_redis_url': 'redis://127.0.0.1:%d/1' % redis.port}
    beats = []
    for name in ('a', 'b'):
        workdir = tmp_path / name
        workdir.mkdir()
        notify = Notify(workdir / 'notify.sock')
        proc = launch(workdir, redis, notify, 'beat', '--scheduler=redbeat.RedBeatScheduler',
                      '--max-interval=%d' % loop, settings=settings)
        beats.append((workdir, notify, proc))
        if name == 'a':
            assert notify.wait_for('READY=1', 60)
            assert wait_heartbeat(workdir, notify, 'running', 10).get('state') == 'running'
    try:
        (holder_dir, holder_notify, holder), (standby_dir, standby_notify, standby) = beats
        assert standby_notify.wait_for('READY=1', 60)
        record = wait_heartbeat(standby_dir, standby_notify, 'standby', 10)
        assert record.get('state') == 'standby' and record['alive'] is True and record['tick'] is None
        since = time.time()
        standby_notify.drain(3)
        assert standby_notify.count('WATCHDOG=1', since) >= 2  # the standby vouches for itself
        assert wait_heartbeat(holder_dir, holder_notify, 'running', 5).get('state') == 'running'
        os.killpg(holder.pid, signal.SIGKILL)
        killed = time.time()
        record = wait_heartbeat(standby_dir, standby_notify, 'running', lock_timeout + loop + 10)
        took = time.time() - killed
        assert record.get('state') == 'running', record
        assert took <= lock_timeout + loop + 2, took
    finally:
        for _workdir, _notify, proc in beats:
            stop(proc)


def load_launcher():
    sys.path.insert(0, FILES)
    try:
        import importlib.util
        spec = importlib.util.spec_from_file_location('celeryops_launcher', LAUNCHER)
        launcher = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(launcher)
    finally:
        sys.path.pop(0)
    return launcher


def test_a_stale_loop_vouches_only_while_its_broker_is_gone():
    launcher = load_launcher()
    clock = [100.0]
    broker_up = [True]
    pace = launcher.Pacemaker('worker', environ={}, clock=lambda: clock[0], broker_reachable=lambda: broker_up[0])
    broker_up[0] = False
    assert pace.alive() is False  # never consumed: not vouched for, broker or not
    pace.mark()
    clock[0] += launcher.STALE_SECONDS + 0.1
    broker_up[0] = True
    assert pace.alive() is False  # stale with its broker up: wedged
    assert pace.record(clock[0])['state'] == 'consuming'
    broker_up[0] = False
    assert pace.alive() is True  # stale while the broker refuses: waiting on it
    # ... alive for the watchdog and liveness, not ready: the probes' readiness
    # reads the state.
    record = pace.record(clock[0])
    assert record['alive'] is True and record['state'] == 'reconnecting'
    beat = launcher.Pacemaker('beat', environ={}, clock=lambda: clock[0], broker_reachable=lambda: broker_up[0])
    beat.mark(next_in=1.0)
    clock[0] += 1.0 + launcher.STALE_SECONDS + 0.1
    assert beat.alive() is True
    broker_up[0] = True
    assert beat.alive() is False


def test_the_broker_probe_follows_a_real_broker(redis):
    launcher = load_launcher()
    from celery import Celery
    probe = launcher.broker_probe(Celery('probe', broker='redis://127.0.0.1:%d/0' % redis.port))
    assert probe() is True
    redis.stop()
    assert probe() is False
    redis.start()
    assert probe() is True
    # Nothing to connect to: no probe, the heartbeat as before.
    assert launcher.broker_probe(Celery('probe', broker='memory://')) is None
    # Failover: reachable while any of the brokers answers.
    closed = socket.socket()
    closed.bind(('127.0.0.1', 0))
    dead = 'redis://127.0.0.1:%d/0' % closed.getsockname()[1]
    closed.close()
    failover = launcher.broker_probe(Celery('probe', broker='%s;redis://127.0.0.1:%d/0' % (dead, redis.port)))
    assert failover() is True
    assert launcher.broker_probe(Celery('probe', broker=dead))() is False


def test_the_broker_addresses_a_worker_may_consume_from():
    launcher = load_launcher()
    from celery import Celery

    def addresses(url, **conf):
        app = Celery('probe', broker=url)
        app.conf.update(conf)
        return launcher.broker_addresses(app)
    assert addresses('amqps://u:p@mq//') == [('mq', 5671)]
    assert addresses('amqp://u:p@mq//', broker_use_ssl=True) == [('mq', 5671)]
    assert addresses('amqp://mq//', broker_read_url='amqp://replica:5673//') == [('replica', 5673)]
    assert addresses('redis://a:6380/0;redis://b/0') == [('a', 6380), ('b', 6379)]
    # A socket, or sentinels that answer while the master is gone: nothing TCP can tell.
    assert addresses('redis+socket:///run/redis.sock') == []
    assert addresses('sentinel://s1:26379;sentinel://s2:26379') == []


def test_the_broker_watch_never_holds_the_heartbeat():
    launcher = load_launcher()
    clock = [100.0]
    answers = []
    release = threading.Event()

    def slow_probe():
        release.wait(10)
        return answers.pop(0)
    watch = launcher.BrokerWatch(slow_probe, clock=lambda: clock[0], max_age=2.0)
    answers.append(False)
    started = time.time()
    assert watch() is True  # nothing known yet: reachable, and no wait on the probe
    assert watch() is True  # one probe at a time
    assert time.time() - started < 1
    release.set()
    watch.thread.join(5)
    assert watch() is False  # the answer, kept until it is max_age old
    answers.append(True)
    clock[0] += 2.0
    watch()
    watch.thread.join(5)
    assert watch() is True


def test_heartbeat_file_is_never_half_written(tmp_path):
    launcher = load_launcher()
    clock = [100.0]
    pace = launcher.Pacemaker('worker', environ={'CELERYOPS_HEARTBEAT_FILE': str(tmp_path / 'hb.json')},
                              clock=lambda: clock[0])
    assert pace.beat() is False  # never turned: not alive
    pace.mark()
    assert pace.beat() is True
    clock[0] += launcher.STALE_SECONDS + 0.1
    assert pace.beat() is False  # stale
    pace.reconnecting()
    assert pace.beat() is True  # reconnecting on purpose
    assert os.listdir(str(tmp_path)) == ['hb.json']
    assert heartbeat_path_state(tmp_path / 'hb.json') == 'reconnecting'


def heartbeat_path_state(path):
    with open(str(path)) as handle:
        return json.load(handle)['state']
