# -*- coding: utf-8 -*-
"""Health checks of the containers celeryops.deploy runs (exit 0 = healthy).

  probe.py --app MODULE ping GROUP   the worker node GROUP@<this hostname>
                                     answers a broadcast ping
  probe.py --app MODULE broker       the app loads and reaches its broker
  probe.py --app MODULE http URL     URL answers 2xx (Flower /healthcheck)

Run through celeryops-exec.sh, so the broker URL comes from the secrets.
"""
import argparse
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


def http(url, timeout):
    from urllib.request import urlopen
    with urlopen(url, timeout=timeout) as response:
        return 0 if 200 <= response.status < 300 else 1


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--app', required=True)
    parser.add_argument('--timeout', type=float, default=10.0)
    parser.add_argument('check', choices=('ping', 'broker', 'http'))
    parser.add_argument('target', nargs='?')
    args = parser.parse_args(argv)
    try:
        if args.check == 'http':
            return http(args.target, args.timeout)
        app = load_app(args.app)
        if args.check == 'ping':
            return ping(app, args.target, args.timeout)
        return broker(app, args.timeout)
    except Exception as exc:  # any failure is "unhealthy", with the reason in the health log
        sys.stderr.write('%s: %s\n' % (type(exc).__name__, exc))
        return 1


if __name__ == '__main__':
    sys.exit(main())
