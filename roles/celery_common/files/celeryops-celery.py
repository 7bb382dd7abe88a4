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
- A heartbeat that proves the worker's loop turns: a timer on the worker's
  own event loop marks each turn; a thread relays fresh marks to systemd's
  watchdog (``WATCHDOG=1``) and to ``$CELERYOPS_HEARTBEAT_FILE`` (read by the
  container probes without importing Celery). While the worker reconnects
  to a lost broker the loop is not turning on purpose, and the heartbeat
  goes on: an outage restarts nothing. A wedged loop (SIGSTOP, a deadlocked
  consumer) stops it, and systemd restarts the worker.

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
# How often the worker's loop marks a turn, and how old the last mark may be
# for the loop to count as turning (a busy prefork parent or a threads pool
# under load delays a timer by well under a second).
TICK_SECONDS = 1.0
STALE_SECONDS = 5.0
# Global options of the celery command that take a value (the subcommand is
# the first word that is neither such an option nor its value).
VALUE_OPTIONS = ('-A', '--app', '-b', '--broker', '--result-backend', '--loader', '--config', '--workdir')


def _app_name(argv):
    """The value of -A/--app in ``argv`` (None when absent)."""
    for index, arg in enumerate(argv):
        if arg in ('-A', '--app') and index + 1 < len(argv):
            return argv[index + 1]
        if arg.startswith('--app='):
            return arg.split('=', 1)[1]
    return None


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
    unknown = sorted(key for key in settings if key not in DEFAULTS)
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

    def __init__(self, kind, environ=None, clock=time.time):
        environ = os.environ if environ is None else environ
        self.kind = kind
        self.environ = environ
        self.clock = clock
        self.state = 'starting'
        self.tick = None
        self.next_tick = None
        self.ready_sent = False
        self.heartbeat_file = environ.get(HEARTBEAT_ENV) or None
        self.watchdog = watchdog_period(environ) > 0
        self.thread = None

    # --- called from the process's own loop -------------------------------
    def mark(self, next_in=None):
        """The loop turned (beat: and will turn again within ``next_in`` s)."""
        now = self.clock()
        self.tick = now
        self.next_tick = now + next_in if next_in is not None else None
        if self.state in ('starting', 'reconnecting'):
            self.state = 'consuming' if self.kind == 'worker' else 'running'
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
        """True while the loop turns, or while it reconnects on purpose."""
        now = self.clock() if now is None else now
        if self.state in ('reconnecting', 'stopping'):
            return True
        if self.tick is None:
            return False
        if self.next_tick is not None:
            # Beat sleeps until its next due entry: late means wedged.
            return now <= self.next_tick + STALE_SECONDS
        return now - self.tick <= STALE_SECONDS

    def status(self):
        return {
            'starting': 'Starting',
            'consuming': 'Consuming',
            'running': 'Scheduling',
            'reconnecting': 'Reconnecting to the broker',
            'stopping': 'Stopping (warm shutdown)',
        }.get(self.state, self.state)

    def record(self, now):
        return {'kind': self.kind, 'state': self.state, 'time': now, 'tick': self.tick,
                'next_tick': self.next_tick, 'pid': os.getpid(), 'alive': self.alive(now)}

    def beat(self):
        now = self.clock()
        alive = self.alive(now)
        if alive and self.watchdog:
            notify('WATCHDOG=1', self.environ)
        if self.heartbeat_file:
            try:
                write_heartbeat(self.heartbeat_file, self.record(now))
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
    of the next one, so a beat that sleeps until a far entry is not stale."""
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


def main():
    # Python put this script's directory first on sys.path; the helpers next
    # to it must not shadow the app's modules (or Celery's). Celery's own
    # entry point has its bin directory there instead, and imports the app
    # from the working directory.
    if sys.path and os.path.abspath(sys.path[0] or '.') == os.path.dirname(os.path.abspath(__file__)):
        del sys.path[0]
    argv = sys.argv[1:]
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
            app.conf.update(settings)
        if command == 'worker':
            install_worker_heartbeat(app, Pacemaker('worker'))
        elif command == 'beat':
            install_beat_heartbeat(Pacemaker('beat'))
    if command == 'flower' and os.environ.get(READY_URL_ENV):
        install_url_readiness(os.environ[READY_URL_ENV])
    from celery.bin.celery import main as celery_main
    sys.exit(celery_main())


if __name__ == '__main__':
    main()
