# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Run ``celery`` so that the platform can tell whether it works.

Every worker, beat and Flower that celeryops.deploy runs starts as
``python celeryops-celery.py -A <app> worker|beat|flower ...`` instead of
``celery -A <app> ...``. The process stays Celery's main process (signals,
exit codes and warm shutdown are Celery's); the launcher adds, with no app
code and no extra dependency:

- Celery settings from the inventory (JSON in ``CELERYOPS_CELERY_SETTINGS``)
  laid over the app's. Celery reads no settings from the environment, and
  ``--config`` is ignored by apps that call ``config_from_object`` (Django's
  pattern), so the launcher imports the app the way ``celery -A`` does and
  updates its configuration before Celery's command line finds it.
- Readiness for systemd (``Type=notify``): ``READY=1`` over
  ``$NOTIFY_SOCKET`` once a worker consumes (its event loop turns after it
  connected to the broker), once beat's scheduler ran its first pass, or once
  Flower answers ``$CELERYOPS_READY_URL``.
- Flower's ``/metrics`` behind the same login as its UI (Flower serves it to
  anyone, with every task and worker name: mher/flower#1342), unless the
  command line says ``--celeryops-open-metrics`` (the launcher's own flag,
  taken off before Flower parses its options). ``/healthcheck`` stays open.
- A heartbeat that proves the worker's loop turns: a timer on the worker's
  own event loop marks each turn; a thread relays fresh marks to systemd's
  watchdog (``WATCHDOG=1``) and to ``$CELERYOPS_HEARTBEAT_FILE`` (read by the
  container probes without importing Celery). While the worker reconnects
  to a lost broker the loop is not turning on purpose, and the heartbeat
  goes on: an outage restarts nothing. The same holds before Celery has
  noticed the loss (the loop can block for seconds in a command that retries
  against the gone broker, longer on a loaded host): a stale loop whose
  brokers all refuse a TCP connection (or no longer resolve) still vouches. A wedged loop (SIGSTOP, a
  deadlocked consumer) with its broker up stops the heartbeat, and systemd
  restarts the worker.

- The measured workload, with ``$CELERYOPS_WORKLOAD_DIR``: each process
  that runs tasks (a prefork child, a threads-pool worker) records every
  task's wall time and CPU time (its thread's on thread pools, its process's
  in a prefork child; none on gevent/eventlet, whose green threads share
  one) and its own peak RSS, and writes the sums and a histogram to
  ``<dir>/<pid>.json`` every ``WORKLOAD_WRITE_SECONDS`` and when it exits.
  The ``celeryops.deploy.workload_report`` playbook reads them back.

``celeryops-celery.py --check`` only checks the settings against the
installed Celery (the roles run it before changing a unit).
"""

import json
import os
import socket
import sys
import time

ENV_NAME = 'CELERYOPS_CELERY_SETTINGS'
HEARTBEAT_ENV = 'CELERYOPS_HEARTBEAT_FILE'
READY_URL_ENV = 'CELERYOPS_READY_URL'
OPEN_METRICS_FLAG = '--celeryops-open-metrics'
WORKLOAD_ENV = 'CELERYOPS_WORKLOAD_DIR'
# How often a process rewrites its workload file (and when it exits).
WORKLOAD_WRITE_SECONDS = 10.0
# Wall-time histogram: bucket k counts tasks of up to 1 ms x 1.25^k (the
# last one everything longer, ~15 h): p95 within 25 %.
BUCKET_BASE_S = 0.001
BUCKET_GROWTH = 1.25
BUCKETS = 80
# Files of processes that exited are merged into one once there are more.
WORKLOAD_MAX_FILES = 64
# How often the worker's loop marks a turn, and how old the last mark may be
# for the loop to count as turning (a busy prefork parent or a threads pool
# under load delays a timer by well under a second).
TICK_SECONDS = 1.0
STALE_SECONDS = 5.0
# A stale loop's broker is probed with a TCP connect of at most this long.
BROKER_PROBE_SECONDS = 1.0
# Global options of the celery command that take a value (the subcommand is
# the first word that is neither such an option nor its value).
VALUE_OPTIONS = ('-A', '--app', '-b', '--broker', '--result-backend', '--loader', '--config', '--workdir')


def _option(argv, short, long_name, default=None):
    """The value of ``short``/``long_name`` in ``argv`` (``default`` when absent)."""
    for index, arg in enumerate(argv):
        if arg in (short, long_name) and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith(long_name + '='):
            return arg.split('=', 1)[1]
    return default


def _app_name(argv):
    """The value of -A/--app in ``argv`` (None when absent)."""
    return _option(argv, '-A', '--app')


def _subcommand(argv):
    """The celery subcommand in ``argv`` (worker, beat, flower, ...) or None."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith('-'):
            return arg
    return None


# Settings of schedulers the roles configure, read by them from the app's
# configuration (RedBeat's redbeat_* names), beside Celery's own.
EXTENSION_SETTINGS = frozenset(('redbeat_redis_url', 'redbeat_lock_timeout', 'redbeat_lock_key', 'redbeat_key_prefix',
                                'redbeat_redis_options', 'redbeat_redis_use_ssl'))


def _fail(message):
    sys.stderr.write('celeryops-celery: %s\n' % message)
    sys.exit(2)


def _settings(version=''):
    """The settings from the environment; exits 2 on bad JSON or unknown names."""
    try:
        settings = json.loads(os.environ.get(ENV_NAME) or '{}')
    except ValueError as error:
        _fail('%s is not valid JSON: %s' % (ENV_NAME, error))
    if not isinstance(settings, dict):
        _fail('%s must be a JSON object of Celery settings' % ENV_NAME)
    from celery.app.defaults import DEFAULTS
    unknown = sorted(key for key in settings if key not in DEFAULTS and key not in EXTENSION_SETTINGS)
    if unknown:
        # Celery would accept and ignore them: a typo must not pass.
        _fail('unknown Celery settings: %s%s' % (', '.join(unknown), ' (Celery %s)' % version if version else ''))
    return settings


def notify(message, environ=None):
    """Send one sd_notify datagram (``READY=1``, ``WATCHDOG=1``, ...).

    The protocol is a single datagram to the AF_UNIX socket named in
    $NOTIFY_SOCKET ('@' = abstract namespace). Returns False when there is
    no socket (not under systemd) or the send failed; never raises.
    """
    environ = os.environ if environ is None else environ
    address = environ.get('NOTIFY_SOCKET')
    if not address:
        return False
    if address.startswith('@'):
        address = '\0' + address[1:]
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.connect(address)
            sock.sendall(message.encode('utf-8'))
        finally:
            sock.close()
        return True
    except OSError:
        return False


def watchdog_period(environ=None):
    """Seconds between WATCHDOG=1 pings this process owes systemd (0: none)."""
    environ = os.environ if environ is None else environ
    try:
        usec = int(environ.get('WATCHDOG_USEC') or 0)
        pid = int(environ.get('WATCHDOG_PID') or 0)
    except ValueError:
        return 0
    if usec <= 0 or (pid and pid != os.getpid()):
        return 0
    # Well inside the watchdog interval, as sd_watchdog_enabled(3) advises.
    return min(TICK_SECONDS, usec / 1e6 / 4)


def write_heartbeat(path, record):
    """Replace the heartbeat file atomically (a probe never reads half a file)."""
    tmp = '%s.%d.tmp' % (path, os.getpid())
    with open(tmp, 'w') as handle:
        json.dump(record, handle, sort_keys=True)
    os.replace(tmp, path)


class Pacemaker(object):
    """The state of one Celery process and the thread that reports it.

    ``mark()`` is called from the process's own loop (the worker's event
    loop, beat's scheduler pass); the thread runs ``beat()`` every
    ``period`` seconds. ``alive()`` decides whether the process vouches for
    itself this time: systemd's watchdog and the probes see only that.
    """

    def __init__(self, kind, environ=None, clock=time.time, broker_reachable=None):
        environ = os.environ if environ is None else environ
        self.kind = kind
        # A callable: False while the broker cannot be reached (None: no probe).
        self.broker_reachable = broker_reachable
        self.environ = environ
        self.clock = clock
        self.state = 'starting'
        self.tick = None
        self.next_tick = None
        self.ready_sent = False
        self.heartbeat_file = environ.get(HEARTBEAT_ENV) or None
        self.watchdog = watchdog_period(environ) > 0
        self.thread = None
        self.waiting_on_broker = False

    # --- called from the process's own loop -------------------------------
    def mark(self, next_in=None):
        """The loop turned (beat: and will turn again within ``next_in`` s)."""
        now = self.clock()
        self.tick = now
        self.next_tick = now + next_in if next_in is not None else None
        if self.state in ('starting', 'reconnecting', 'standby'):
            self.state = 'consuming' if self.kind == 'worker' else 'running'
            notify('STATUS=%s' % self.status(), self.environ)
        if not self.ready_sent:
            self.ready_sent = notify('READY=1', self.environ) or True

    def standby(self):
        """Beat waits for its scheduler's lock (RedBeat) while another beat
        schedules: healthy and ready, with nothing to mark until it holds it."""
        self.state = 'standby'
        notify('STATUS=%s' % self.status(), self.environ)
        if not self.ready_sent:
            self.ready_sent = notify('READY=1', self.environ) or True

    def reconnecting(self):
        if self.state != 'stopping':
            self.state = 'reconnecting'
            notify('STATUS=%s' % self.status(), self.environ)

    def stopping(self):
        self.state = 'stopping'
        notify('STOPPING=1\nSTATUS=%s' % self.status(), self.environ)

    # --- called from the thread -------------------------------------------
    def alive(self, now=None):
        """True while the loop turns, or while it reconnects on purpose, or
        waits on a broker that is gone (``waiting_on_broker`` then)."""
        now = self.clock() if now is None else now
        self.waiting_on_broker = False
        if self.state in ('reconnecting', 'stopping', 'standby'):
            return True
        if self.tick is None:
            return False
        if self.next_tick is not None:
            # Beat sleeps until its next due entry: late means wedged.
            fresh = now <= self.next_tick + STALE_SECONDS
        else:
            fresh = now - self.tick <= STALE_SECONDS
        if fresh:
            return True
        # Stale while the broker is gone: the loop waits on the broker, and a
        # restart would wait the same (and lose the reconnect in progress).
        self.waiting_on_broker = self.broker_reachable is not None and not self.broker_reachable()
        return self.waiting_on_broker

    def status(self):
        return {
            'starting': 'Starting',
            'consuming': 'Consuming',
            'running': 'Scheduling',
            'reconnecting': 'Reconnecting to the broker',
            'standby': 'Standby: waiting for the scheduler lock another beat holds',
            'stopping': 'Stopping (warm shutdown)',
        }.get(self.state, self.state)

    def record(self, now, alive=None):
        alive = self.alive(now) if alive is None else alive
        # Alive but not ready: what the probes' readiness reads while the loop
        # waits on a gone broker, before Celery itself says it reconnects.
        state = 'reconnecting' if self.waiting_on_broker else self.state
        return {'kind': self.kind, 'state': state, 'time': now, 'tick': self.tick,
                'next_tick': self.next_tick, 'pid': os.getpid(), 'alive': alive}

    def beat(self):
        now = self.clock()
        alive = self.alive(now)
        if alive and self.watchdog:
            notify('WATCHDOG=1', self.environ)
        if self.heartbeat_file:
            try:
                write_heartbeat(self.heartbeat_file, self.record(now, alive))
            except OSError:
                pass  # a full or missing tmpfs must not stop the worker
        return alive

    def start_thread(self):
        """Start the reporting thread once (after a prefork pool forked its
        first children: they need no copy of it)."""
        if self.thread is not None:
            return self.thread
        import threading
        period = watchdog_period(self.environ) or TICK_SECONDS

        def run():
            while True:
                time.sleep(period)
                self.beat()
        self.thread = threading.Thread(target=run, name='celeryops-heartbeat', daemon=True)
        self.thread.start()
        return self.thread


def broker_addresses(app):
    """(host, port) of every broker the worker may consume from (the read URL,
    failover alternates included; the TLS port where TLS is on), or [] where
    TCP cannot tell (a Unix socket; Sentinel, whose sentinels answer while the
    master is gone)."""
    from kombu import Connection
    connection = app.connection_for_read()
    infos = ([Connection(url, ssl=connection.ssl).info() for url in connection.alt] if len(connection.alt) > 1
             else [connection.info()])
    addresses = []
    for info in infos:
        host, port, transport = info.get('hostname'), info.get('port'), str(info.get('transport'))
        if not host or not port or '://' in host or 'sentinel' in transport or 'socket' in transport:
            return []
        addresses.append((host, int(port)))
    return addresses


def broker_probe(app, timeout=BROKER_PROBE_SECONDS):
    """A callable that says whether any of the app's brokers accepts a TCP
    connection, or None where there is nothing to try (no probe: the
    heartbeat as before). Any failure counts as unreachable: refused, a name
    that no longer resolves (Compose drops a stopped container's name), a
    timeout."""
    try:
        addresses = broker_addresses(app)
    except Exception:  # an unusual transport: no probe
        return None
    if not addresses:
        return None

    def reachable():
        for address in addresses:
            try:
                socket.create_connection(address, timeout).close()
            except OSError:
                continue
            return True
        return False
    return reachable


class BrokerWatch(object):
    """The last answer of a broker probe, refreshed in a thread of its own: a
    slow name lookup (its time is not bounded by the connect timeout) never
    holds the heartbeat. Reachable until a probe says otherwise."""

    def __init__(self, probe, clock=time.time, max_age=BROKER_PROBE_SECONDS * 2):
        self.probe = probe
        self.clock = clock
        self.max_age = max_age
        self.reachable = True
        self.checked = None
        self.thread = None

    def __call__(self):
        import threading
        now = self.clock()
        running = self.thread is not None and self.thread.is_alive()
        if not running and (self.checked is None or now - self.checked >= self.max_age):
            self.thread = threading.Thread(target=self._run, name='celeryops-broker-probe', daemon=True)
            self.thread.start()
        return self.reachable

    def _run(self):
        try:
            self.reachable = bool(self.probe())
        finally:
            self.checked = self.clock()


def broker_watch(app):
    probe = broker_probe(app)
    return BrokerWatch(probe) if probe is not None else None


def _bucket(seconds):
    import math
    if seconds <= BUCKET_BASE_S:
        return 0
    return min(BUCKETS - 1, int(math.ceil(math.log(seconds / BUCKET_BASE_S, BUCKET_GROWTH) - 1e-9)))


def _rss_kib():
    try:
        with open('/proc/self/statm') as handle:
            return int(handle.read().split()[1]) * (os.sysconf('SC_PAGE_SIZE') // 1024)
    except (OSError, ValueError, IndexError):
        return 0


def merge_records(records):
    """One workload record from several (the sums add, peaks take the max)."""
    out = {'count': 0, 'wall_s': 0.0, 'cpu_s': 0.0, 'cpu_count': 0, 'buckets': {}, 'max_rss_kib': 0,
           'rss_growth_kib': 0, 'max_running': 0}
    for record in records:
        out['count'] += record.get('count', 0)
        out['wall_s'] += record.get('wall_s', 0.0)
        out['cpu_s'] += record.get('cpu_s', 0.0)
        out['cpu_count'] += record.get('cpu_count', 0)
        for key in ('max_rss_kib', 'rss_growth_kib', 'max_running'):
            out[key] = max(out[key], record.get(key, 0))
        for bucket, count in record.get('buckets', {}).items():
            out['buckets'][str(bucket)] = out['buckets'].get(str(bucket), 0) + count
    return out


class Workload(object):
    """Task times of this process, written to ``<directory>/<pid>.json``.

    ``started``/``finished`` run in the thread that runs the task (Celery's
    task_prerun/task_postrun), so the thread's CPU clock is the task's.
    """

    def __init__(self, directory, pool, clock=time.monotonic):
        import threading
        self.directory = directory
        self.pool = pool
        self.clock = clock
        self.lock = threading.Lock()
        self.running = {}
        self.pid = None
        self.reset()

    def reset(self):
        self.pid = os.getpid()
        self.flusher = None
        self.dirty = False
        self.record = {'pid': self.pid, 'pool': self.pool, 'count': 0, 'wall_s': 0.0, 'cpu_s': 0.0,
                       'cpu_count': 0, 'buckets': {}, 'max_rss_kib': 0, 'rss_growth_kib': 0, 'max_running': 0}
        self.base_rss = None

    def cpu_clock(self):
        """This task's CPU clock: None where tasks share a thread (green threads)."""
        if self.pool in ('gevent', 'eventlet'):
            return None
        return time.thread_time() if self.pool in ('threads', 'solo') else time.process_time()

    def started(self, task_id=None, **_kwargs):
        if os.getpid() != self.pid:
            self.reset()  # a prefork child: its own record, not a copy of the parent's
        if self.base_rss is None:
            self.base_rss = _rss_kib()
        if self.flusher is None:
            self.start_flusher()
        with self.lock:
            self.running[task_id] = (self.clock(), self.cpu_clock())
            self.record['max_running'] = max(self.record['max_running'], len(self.running))

    def finished(self, task_id=None, **_kwargs):
        now = self.clock()
        cpu_now = self.cpu_clock()
        with self.lock:
            start = self.running.pop(task_id, None)
            if start is None:
                return
            record = self.record
            wall = now - start[0]
            record['count'] += 1
            record['wall_s'] += wall
            if cpu_now is not None and start[1] is not None:
                record['cpu_s'] += max(0.0, cpu_now - start[1])
                record['cpu_count'] += 1
            bucket = str(_bucket(wall))
            record['buckets'][bucket] = record['buckets'].get(bucket, 0) + 1
            self.dirty = True

    def start_flusher(self):
        """A thread of this process (a prefork child has its own) that writes the record when it changed."""
        import threading

        def run():
            while True:
                time.sleep(WORKLOAD_WRITE_SECONDS)
                if self.dirty:
                    self.write()
        self.flusher = threading.Thread(target=run, name='celeryops-workload', daemon=True)
        self.flusher.start()

    def write(self, **_kwargs):
        import resource
        with self.lock:
            self.dirty = False
            record = dict(self.record, buckets=dict(self.record['buckets']), time=time.time())
        record['max_rss_kib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        record['rss_growth_kib'] = max(0, record['max_rss_kib'] - (self.base_rss or record['max_rss_kib']))
        if not record['count']:
            return
        try:
            os.makedirs(self.directory, exist_ok=True)
            write_heartbeat(os.path.join(self.directory, '%d.json' % self.pid), record)
            self.compact()
        except OSError:
            pass  # a full or missing directory must not stop the worker

    def compact(self):
        """Merge the files of processes that exited once there are too many (recycled children)."""
        names = [name for name in os.listdir(self.directory) if name.endswith('.json') and name[:-5].isdigit()]
        if len(names) <= WORKLOAD_MAX_FILES:
            return
        import fcntl
        with open(os.path.join(self.directory, '.lock'), 'w') as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            merged_path = os.path.join(self.directory, 'merged.json')
            records, gone = [], []
            for name in names:
                pid = int(name[:-5])
                if pid == self.pid or os.path.exists('/proc/%d' % pid):
                    continue
                try:
                    with open(os.path.join(self.directory, name)) as handle:
                        records.append(json.load(handle))
                    gone.append(name)
                except (OSError, ValueError):
                    continue
            if os.path.exists(merged_path):
                with open(merged_path) as handle:
                    records.append(json.load(handle))
            merged = merge_records(records)
            merged.update(pid=0, pool=self.pool, time=time.time())
            write_heartbeat(merged_path, merged)
            for name in gone:
                os.unlink(os.path.join(self.directory, name))


def install_workload(directory, pool):
    """Record every task's times (see Workload); Celery's signals, no app code."""
    from celery import signals
    workload = Workload(directory, pool)
    signals.task_prerun.connect(workload.started, weak=False)
    signals.task_postrun.connect(workload.finished, weak=False)
    signals.worker_process_shutdown.connect(workload.write, weak=False)
    signals.worker_shutdown.connect(workload.write, weak=False)
    return workload


def _pool(argv):
    """The -P/--pool value of a worker command line (Celery's default: prefork)."""
    return _option(argv, '-P', '--pool', 'prefork')


def install_worker_heartbeat(app, pacemaker):
    """A consumer bootstep: marks each turn of the worker's event loop.

    It starts after the task consumer (so the broker connection exists) and
    before the event loop; its timer entry fires only when the loop runs,
    i.e. when the worker consumes. When the connection is lost, Celery stops
    the consumer's steps and reconnects: the step says so, and starts again
    (a new timer) once the worker consumes again.
    """
    from celery import bootsteps, signals

    class Heartbeat(bootsteps.StartStopStep):
        requires = ('celery.worker.consumer.tasks:Tasks',)
        label = 'celeryops heartbeat'

        def __init__(self, parent, **kwargs):
            super(Heartbeat, self).__init__(parent, **kwargs)
            self.entry = None

        def start(self, parent):
            pacemaker.start_thread()
            self.entry = parent.timer.call_repeatedly(TICK_SECONDS, pacemaker.mark)

        def stop(self, parent):
            if self.entry is not None:
                try:
                    self.entry.cancel()
                except Exception:  # cancelling twice (Celery cancels connection entries too) is fine
                    pass
                self.entry = None
            pacemaker.reconnecting()

        shutdown = stop

    def on_shutting_down(**_kwargs):
        pacemaker.stopping()

    app.steps['consumer'].add(Heartbeat)
    signals.worker_shutting_down.connect(on_shutting_down, weak=False)


def install_beat_heartbeat(pacemaker):
    """Beat is ready once its scheduler ran a pass; each pass marks the time
    of the next one, so a beat that sleeps until a far entry is not stale.
    A beat waiting for a locking scheduler's lock is ready as a standby."""
    from celery import signals

    def on_beat_init(sender=None, **_kwargs):
        scheduler = sender.scheduler
        original = scheduler.tick

        def tick(*args, **kwargs):
            interval = original(*args, **kwargs)
            pacemaker.mark(max(float(interval or 0), 0.0))
            return interval
        scheduler.tick = tick
        pacemaker.start_thread()
        # RedBeat's own beat_init handler (connected after this one, when
        # Celery loads the scheduler) blocks until this beat holds the lock:
        # till then it is a standby, not a beat that failed to start.
        if getattr(scheduler, 'lock_key', None) and getattr(scheduler, 'lock', None) is None:
            pacemaker.standby()

    signals.beat_init.connect(on_beat_init, weak=False)


def install_url_readiness(url, timeout=600.0):
    """Flower: READY=1 once ``url`` (its /healthcheck) answers 2xx."""
    import threading
    from urllib.request import urlopen

    def wait():
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with urlopen(url, timeout=2) as response:
                    if 200 <= response.status < 300:
                        notify('READY=1\nSTATUS=Serving')
                        return
            except Exception:  # not listening yet
                pass
            time.sleep(0.5)
    threading.Thread(target=wait, name='celeryops-ready', daemon=True).start()


def install_metrics_login():
    """Flower's /metrics asks for the login its UI asks for.

    Flower's own ``get_current_user`` does the checking: it raises 401 on
    missing or wrong basic-auth credentials, returns None without an OAuth
    session, and lets everyone in when neither is configured (an open
    Flower, celery_flower_auth_disabled, stays open).
    """
    import tornado.web
    from flower.views.monitor import Metrics

    own = Metrics.prepare

    def prepare(self):
        if not self.current_user:
            raise tornado.web.HTTPError(401)
        return own(self)
    Metrics.prepare = prepare


def layered_over(conf, settings):
    """``settings`` to lay over the app's ``conf``: broker_transport_options
    join the app's own key by key (publisher confirms from the inventory must
    not drop the app's retry policy or visibility timeout)."""
    settings = dict(settings)
    options = settings.get('broker_transport_options')
    own = conf.get('broker_transport_options')
    if isinstance(options, dict) and isinstance(own, dict):
        settings['broker_transport_options'] = dict(own, **options)
    return settings


def classic_app_queues(app):
    """Queues the app itself lists (task_queues) that are not quorum queues.

    celery_broker_queue_type quorum sets the type of the queues Celery
    declares by name; queues the app declares as Queue objects keep their
    own arguments, and a classic queue among quorum ones is what nobody asked
    for (and one RabbitMQ refuses to redeclare as another type later).
    """
    return sorted(queue.name for queue in (app.conf.task_queues or ())
                  if (getattr(queue, 'queue_arguments', None) or {}).get('x-queue-type') != 'quorum')


def main():
    # Python put this script's directory first on sys.path; the helpers next
    # to it must not shadow the app's modules (or Celery's). Celery's own
    # entry point has its bin directory there instead, and imports the app
    # from the working directory.
    if sys.path and os.path.abspath(sys.path[0] or '.') == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    argv = sys.argv[1:]
    open_metrics = OPEN_METRICS_FLAG in argv
    argv = [arg for arg in argv if arg != OPEN_METRICS_FLAG]
    if argv == ['--check']:
        # The roles' deploy-time check: the settings against the Celery
        # installed here, before any unit or file changes.
        from celery import __version__
        _settings(__version__)
        sys.stdout.write('celeryops-celery: settings known to Celery %s\n' % __version__)
        return
    sys.argv = ['celery'] + argv
    # Like celery's own entry point: eventlet/gevent must patch the standard
    # library before anything (the app included) imports it.
    from celery import maybe_patch_concurrency
    maybe_patch_concurrency()
    settings = _settings()
    command = _subcommand(argv)
    app_name = _app_name(argv)
    if (settings or command in ('worker', 'beat')) and not app_name:
        _fail('no -A/--app in the command line')
    if command == 'worker':
        # A wedged worker killed by the watchdog (SIGABRT) leaves the
        # tracebacks of its threads in the journal.
        import faulthandler
        faulthandler.enable()
    if settings or command in ('worker', 'beat'):
        from celery.app.utils import find_app
        app = find_app(app_name)
        if settings:
            app.conf.update(layered_over(app.conf, settings))
            classic = classic_app_queues(app) if settings.get('task_default_queue_type') == 'quorum' else []
            if classic:
                _fail("celery_broker_queue_type is quorum, but the app's task_queues declare %s without"
                      " queue_arguments={'x-queue-type': 'quorum'}: add that argument to them in the app"
                      % ', '.join(classic))
        if command == 'worker':
            install_worker_heartbeat(app, Pacemaker('worker', broker_reachable=broker_watch(app)))
            if os.environ.get(WORKLOAD_ENV):
                install_workload(os.environ[WORKLOAD_ENV], _pool(argv))
        elif command == 'beat':
            install_beat_heartbeat(Pacemaker('beat', broker_reachable=broker_watch(app)))
    if command == 'flower' and os.environ.get(READY_URL_ENV):
        install_url_readiness(os.environ[READY_URL_ENV])
    if command == 'flower' and not open_metrics:
        install_metrics_login()
    from celery.bin.celery import main as celery_main
    sys.exit(celery_main())


if __name__ == '__main__':
    main()
