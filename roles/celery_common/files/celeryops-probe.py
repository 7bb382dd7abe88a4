# -*- coding: utf-8 -*-
"""Health checks of the containers celeryops.deploy runs (exit 0 = healthy).

  probe.py ready                     the heartbeat file says the process
                                     works: a worker consumes (its event
                                     loop turns), beat schedules on time
  probe.py --app MODULE alive GROUP  liveness: the heartbeat file says the
                                     loop turns or the worker reconnects; when
                                     it is stale, ask Celery: the node answers,
                                     or the broker is unreachable (a restart
                                     would not help: it reconnects by itself)
  probe.py --app MODULE ping GROUP   the worker node GROUP@<this hostname>
                                     answers a broadcast ping
  probe.py --app MODULE broker       the app loads and reaches its broker
  probe.py http URL                  URL answers 2xx (Flower /healthcheck)

`ready` and a fresh `alive` read one small file that the launcher
(celeryops-celery.py) rewrites every second ($CELERYOPS_HEARTBEAT_FILE,
on a tmpfs): no Celery import, no broker round trip. Only a stale `alive`
imports Celery, through celeryops-exec.sh for the broker URL where the
secrets are files (Compose), or with the pod's environment (Kubernetes).
"""
# Only what the heartbeat checks need is imported up front: they run every
# few seconds in every container, and each module costs CPU at start.
import os
import sys
import time

HEARTBEAT_ENV = 'CELERYOPS_HEARTBEAT_FILE'
# The launcher writes the file every second; older than this, the process
# (or its reporting thread) is frozen or gone.
MAX_AGE = 10.0


def heartbeat(path=None, now=None):
    """The heartbeat record when it is fresh, else None."""
    path = path or os.environ.get(HEARTBEAT_ENV)
    if not path:
        return None
    try:
        with open(path) as handle:
            record = parse_record(handle.read())
    except (OSError, ValueError):
        return None
    now = time.time() if now is None else now
    if not isinstance(record, dict) or now - float(record.get('time') or 0) > MAX_AGE:
        return None
    return record


def parse_record(text):
    """The launcher's flat JSON record, read without importing json (whose
    import costs more than the rest of the check); json for anything else."""
    text = text.strip()
    record = {}
    if text.startswith('{') and text.endswith('}') and '[' not in text and '{' not in text[1:]:
        for pair in text[1:-1].split(', '):
            key, sep, value = pair.partition(': ')
            if not sep or not (key.startswith('"') and key.endswith('"')):
                break
            if value.startswith('"') and value.endswith('"') and '\\' not in value:
                value = value[1:-1]
            else:
                value = {'true': True, 'false': False, 'null': None}.get(value, value)
                if isinstance(value, str):
                    try:
                        value = float(value)
                    except ValueError:
                        break
            record[key[1:-1]] = value
        else:
            return record
    import json
    return json.loads(text)


def ready(path=None, now=None):
    """0 when the process works now: a worker consumes, beat schedules on time
    (or, with a locking scheduler, waits for the lock as a standby)."""
    record = heartbeat(path, now)
    if record and record.get('alive') and record.get('state') in ('consuming', 'running', 'standby'):
        return 0
    sys.stderr.write('not ready: %s\n' % (
        record if record else 'no fresh heartbeat (%s)' % os.environ.get(HEARTBEAT_ENV)))
    return 1


def load_app(module):
    from celery.app.utils import find_app
    return find_app(module)


def ping(app, group, timeout):
    import socket
    node = '%s@%s' % (group, socket.gethostname())
    replies = app.control.ping(destination=[node], timeout=timeout)
    for reply in replies or []:
        if node in reply:
            return 0
    sys.stderr.write('no pong from %s within %ss\n' % (node, timeout))
    return 1


def broker(app, timeout):
    with app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=timeout)
    return 0


class Deadline(Exception):
    """A phase of the liveness check ran out of time."""


def _bounded(seconds, func, *args):
    """Run func, raising Deadline after `seconds` (a broker that drops packets
    can block a connect far longer than any probe timeout)."""
    import signal

    def expire(_signum, _frame):
        raise Deadline('no answer within %ss' % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(max(1, int(seconds)))
    try:
        return func(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def alive_by_celery(app, group, timeout):
    """Fails only for a worker that is wedged while its broker works.

    Bounded: at most `timeout` for the ping and `timeout` for the broker
    check, so the kubelet's timeoutSeconds (30 s by default) is never hit.
    """
    try:
        if _bounded(timeout + 1, ping, app, group, timeout) == 0:
            return 0
    except Exception as exc:  # no pong either way; the broker check decides
        sys.stderr.write('ping failed (%s: %s)\n' % (type(exc).__name__, exc))
    try:
        _bounded(timeout, broker, app, timeout)
    except Exception as exc:  # the broker is down: not this worker's fault
        sys.stderr.write('broker unreachable (%s: %s): not restarting for that\n' % (type(exc).__name__, exc))
        return 0
    sys.stderr.write('the broker answers but the worker does not: wedged\n')
    return 1


def http(url, timeout):
    from urllib.request import urlopen
    with urlopen(url, timeout=timeout) as response:
        return 0 if 200 <= response.status < 300 else 1


def _check_word(argv):
    """The check named in argv (the first word that is not an option's value)."""
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ('--app', '--timeout'):
            skip = True
        elif not arg.startswith('-'):
            return arg
    return None


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    # The usual checks, answered from the heartbeat file alone.
    check = _check_word(argv)
    if check == 'ready':
        return ready()
    if check == 'alive':
        record = heartbeat()
        if record and record.get('alive'):
            return 0  # the loop turns, or it reconnects on purpose
    import argparse
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--app')
    parser.add_argument('--timeout', type=float, default=10.0)
    parser.add_argument('check', choices=('ready', 'ping', 'alive', 'broker', 'http'))
    parser.add_argument('target', nargs='?')
    args = parser.parse_args(argv)
    try:
        if args.check == 'http':
            return http(args.target, args.timeout)
        if not args.app:
            parser.error('--app is needed for %s' % args.check)
        app = load_app(args.app)
        if args.check == 'ping':
            return ping(app, args.target, args.timeout)
        if args.check == 'alive':
            return alive_by_celery(app, args.target, args.timeout)
        return broker(app, args.timeout)
    except Exception as exc:  # any failure is "unhealthy", with the reason in the health log
        sys.stderr.write('%s: %s\n' % (type(exc).__name__, exc))
        return 1


if __name__ == '__main__':
    sys.exit(main())
