# -*- coding: utf-8 -*-
"""Health checks of the containers celeryops.deploy runs (exit 0 = healthy).

  probe.py --app MODULE ping GROUP   the worker node GROUP@<this hostname>
                                     answers a broadcast ping
  probe.py --app MODULE broker       the app loads and reaches its broker
  probe.py --app MODULE alive GROUP  liveness: the node answers, or the broker
                                     is unreachable (then a restart would not
                                     help: the worker reconnects by itself)
  probe.py --app MODULE http URL     URL answers 2xx (Flower /healthcheck)

Run through celeryops-exec.sh, so the broker URL comes from the secrets.
"""
import argparse
import signal
import socket
import sys


def load_app(module):
    from celery.app.utils import find_app
    return find_app(module)


def ping(app, group, timeout):
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
    def expire(_signum, _frame):
        raise Deadline('no answer within %ss' % seconds)
    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(max(1, int(seconds)))
    try:
        return func(*args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def alive(app, group, timeout):
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


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--app', required=True)
    parser.add_argument('--timeout', type=float, default=10.0)
    parser.add_argument('check', choices=('ping', 'alive', 'broker', 'http'))
    parser.add_argument('target', nargs='?')
    args = parser.parse_args(argv)
    try:
        if args.check == 'http':
            return http(args.target, args.timeout)
        app = load_app(args.app)
        if args.check == 'ping':
            return ping(app, args.target, args.timeout)
        if args.check == 'alive':
            return alive(app, args.target, args.timeout)
        return broker(app, args.timeout)
    except Exception as exc:  # any failure is "unhealthy", with the reason in the health log
        sys.stderr.write('%s: %s\n' % (type(exc).__name__, exc))
        return 1


if __name__ == '__main__':
    sys.exit(main())
