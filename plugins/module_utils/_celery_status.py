# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What ``celeryops.deploy.status`` reports: one row per worker instance or
container, beat, Flower and queue, each healthy or not with its reasons.

The rules are here, as plain functions over what the module read on the
host (``systemctl show``, the launcher's heartbeat files, ``docker
inspect``, one Celery broadcast per app and host), so the unit tests check
them on fixtures. A row is healthy when:

  worker  its unit is active/running (its container running, not paused),
          its heartbeat is fresh (written within HEARTBEAT_MAX_AGE s, the
          readiness the roles gate on) and says ``consuming``, and its node
          answered the ping;
  beat    it runs, its heartbeat is fresh and says ``running`` (or
          ``standby``: waiting for RedBeat's lock, which another beat holds);
  flower  it runs, /healthcheck answers 200 and the login works (401
          without the credentials, 200 with them);
  queue   the broker answered and it holds at most ``queue_max`` messages.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import re

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_rollout import scrub

# The probe's MAX_AGE (roles/celery_common/files/celeryops-probe.py): the
# launcher rewrites the file every second; older, the process is frozen or gone.
HEARTBEAT_MAX_AGE = 10.0
# Worker heartbeat states the readiness check accepts; beat's.
WORKER_READY = ('consuming',)
BEAT_READY = ('running', 'standby')
COLUMNS = ('', 'NAME', 'STATE', 'READY', 'RESTARTS', 'UP', 'RELEASE', 'HEARTBEAT', 'NODE', 'PING',
           'ACTIVE', 'RESERVED', 'POOL')

# Run by the app's own interpreter, as the app's user, with the app's
# environment (systemd-run with its env files; Compose: docker exec through
# the entry point that reads the secrets): one ping to the nodes of this
# host, then active/reserved/stats to those that answered (each broadcast
# returns as soon as every node asked has replied), and each queue's length
# by a passive declare (kombu answers it for Redis and AMQP alike).
INSPECT_SCRIPT = r'''
import json, os, signal, sys
args = json.loads(sys.argv[1])
out = {}
# The whole run is bounded here too: a broker that accepts the connection and
# never answers must not leave this process behind its caller's timeout.
signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(RuntimeError('no answer within %ss' % args['budget'])))
signal.alarm(int(args['budget']))
try:
    from celery.app.utils import find_app
    app = find_app(args['app'])
    settings = os.environ.get('CELERYOPS_CELERY_SETTINGS')
    if settings:
        settings = json.loads(settings)
        if args.get('launcher'):
            # The inventory's settings laid over the app's as the launcher lays them.
            import importlib.util
            spec = importlib.util.spec_from_file_location('celeryops_launcher', args['launcher'])
            launcher = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(launcher)
            settings = launcher.layered_over(app.conf, settings)
        app.conf.update(settings)
    timeout = args['timeout']
    nodes = args['nodes']
    if nodes:
        ping = app.control.inspect(destination=nodes, timeout=timeout, limit=len(nodes)).ping() or {}
        out['ping'] = sorted(ping)
        if ping:
            ask = app.control.inspect(destination=sorted(ping), timeout=timeout, limit=len(ping))
            out['active'] = dict((k, len(v or ())) for k, v in (ask.active() or {}).items())
            out['reserved'] = dict((k, len(v or ())) for k, v in (ask.reserved() or {}).items())
            out['pool'] = dict((k, {'implementation': (v.get('pool') or {}).get('implementation'),
                                    'concurrency': (v.get('pool') or {}).get('max-concurrency')})
                               for k, v in (ask.stats() or {}).items())
    queues = {}
    if args['queues']:
        with app.connection_for_read() as conn:
            conn.ensure_connection(max_retries=1, timeout=timeout)
            for queue in args['queues']:
                try:
                    queues[queue] = {'messages': conn.default_channel.queue_declare(queue=queue, passive=True)[1]}
                except Exception as exc:
                    # Not found: Redis keeps no key for an empty queue; AMQP has
                    # none until a worker declared it. Either way nothing waits.
                    if getattr(exc, 'code', None) == 404 or 'NOT_FOUND' in str(exc):
                        queues[queue] = {'messages': 0}
                    else:
                        queues[queue] = {'error': '%s: %s' % (type(exc).__name__, exc)}
                    if conn.transport.driver_type == 'amqp':
                        conn.close()  # AMQP closes the channel after a failed passive declare
                        conn.ensure_connection(max_retries=1, timeout=timeout)
    out['queues'] = queues
except Exception as exc:
    out['error'] = '%s: %s' % (type(exc).__name__, exc)
sys.stdout.write(json.dumps(out))
'''


def scrub_all(value, secrets):
    """``value`` (a reply: dicts, lists, strings) with every string scrubbed."""
    if isinstance(value, dict):
        return dict((key, scrub_all(item, secrets)) for key, item in value.items())
    if isinstance(value, list):
        return [scrub_all(item, secrets) for item in value]
    return scrub(value, secrets) if isinstance(value, str) else value


def parse_show(text):
    """``systemctl show`` of several units -> one dict of properties per unit, in order
    (a property given on several lines, as EnvironmentFiles is, keeps them joined by newlines)."""
    units = []
    current = {}
    for line in text.splitlines():
        if not line.strip():
            if current:
                units.append(current)
                current = {}
            continue
        key, _sep, value = line.partition('=')
        current[key] = current[key] + '\n' + value if key in current else value
    if current:
        units.append(current)
    return units


def unix_time(value):
    """``@1796615499`` (``systemctl show --timestamp=unix``) -> 1796615499.0; empty -> None."""
    value = (value or '').strip()
    if value.startswith('@'):
        try:
            return float(value[1:])
        except ValueError:
            return None
    return None


def parse_heartbeat(text):
    """The launcher's heartbeat record, or None for a missing or unreadable file."""
    try:
        record = json.loads(text)
    except (TypeError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def release_of(link_target):
    """The release key of an instance's link (``.../releases/<key>/venv``), else the target itself."""
    match = re.search(r'/releases/([^/]+)/venv/?$', link_target or '')
    return match.group(1) if match else (link_target or '-')


def pool_name(implementation):
    """``celery.concurrency.thread:TaskPool`` -> ``threads`` (the --pool word)."""
    if not implementation:
        return None
    module = implementation.split(':', 1)[0].rsplit('.', 1)[-1]
    return {'thread': 'threads', 'asynpool': 'prefork', 'prefork': 'prefork'}.get(module, module)


def duration(seconds):
    """A short human duration: 42s, 7m, 3h, 2d."""
    if seconds is None:
        return '-'
    seconds = max(0, int(seconds))
    for size, unit in ((86400, 'd'), (3600, 'h'), (60, 'm')):
        if seconds >= size:
            return '%d%s' % (seconds // size, unit)
    return '%ds' % seconds


def worker_row(unit, group, heartbeat, now, node, inspect, max_age=HEARTBEAT_MAX_AGE):
    """One worker instance or container of ``group``: ``unit`` holds name, state, running,
    restarts, uptime, release; ``heartbeat`` the record or None; ``inspect`` the broadcast's reply."""
    row = _process_row('worker', unit, heartbeat, now, WORKER_READY, max_age)
    row['group'] = group
    row['node'] = node
    answered = node in (inspect.get('ping') or ())
    row['ping'] = answered
    pool = (inspect.get('pool') or {}).get(node) or {}
    row.update(active=(inspect.get('active') or {}).get(node), reserved=(inspect.get('reserved') or {}).get(node),
               pool=pool_name(pool.get('implementation')), concurrency=pool.get('concurrency'))
    if row['running'] and not answered:
        row['reasons'].append('node %s did not answer the ping%s' % (
            node, ' (%s)' % inspect['error'] if inspect.get('error') else ''))
    row['healthy'] = not row['reasons']
    return row


def beat_row(unit, heartbeat, now, max_age=HEARTBEAT_MAX_AGE):
    """Beat: running with a fresh heartbeat; ``holds_lock`` when it schedules (RedBeat: the
    lock is this host's), False when it waits as a standby."""
    row = _process_row('beat', unit, heartbeat, now, BEAT_READY, max_age)
    state = (heartbeat or {}).get('state')
    row['holds_lock'] = state == 'running' if row['ready'] else None
    tick = (heartbeat or {}).get('tick')
    row['last_tick_age'] = round(now - float(tick), 1) if tick else None
    row['healthy'] = not row['reasons']
    return row


def flower_row(unit, health, login):
    """Flower: running, /healthcheck 200, login: ``health`` and ``login`` are
    {'status': int or None, 'error': str} (login: 'without' and 'with' the credentials)."""
    row = _base_row('flower', unit)
    if row['running']:
        if (health or {}).get('status') != 200:
            row['reasons'].append('/healthcheck answered %s' % _answer(health))
        if login:
            if login.get('with') and login['with'].get('status') != 200:
                row['reasons'].append('the login failed: %s with the credentials' % _answer(login['with']))
            if login.get('without') and login['without'].get('status') not in (401, 403):
                row['reasons'].append('%s without credentials (wanted 401)' % _answer(login['without']))
    row['ready'] = row['running'] and not row['reasons']
    row['healthy'] = not row['reasons']
    return row


def broker_row(unit):
    """The Compose project's all-in-one broker: running, its own health check passing."""
    row = _base_row('broker', unit)
    if row['running'] and unit.get('health') not in (None, 'healthy'):
        row['reasons'].append('its health check says %s' % unit['health'])
    row['ready'] = row['running'] and not row['reasons']
    row['healthy'] = not row['reasons']
    return row


def missing_row(kind, name, reason=None):
    """A process the deployment asks for that has no unit or container at all."""
    row = _base_row(kind, {'name': name, 'state': 'missing'})
    row['reasons'] = [reason or '%s is missing: the project asks for it, no container exists' % kind]
    row['healthy'] = False
    return row


GROUPS = {'worker': 'celery_workers', 'beat': 'celery_beat', 'flower': 'celery_flower'}


def expected_rows(rows, expect):
    """A row for each component this host's inventory groups put here (``expect``: worker,
    beat, flower) of which nothing is deployed: a host nothing runs on is not healthy."""
    kinds = set(row['kind'] for row in rows)
    return [missing_row(kind, kind, 'no %s is deployed here, but the host is in the %s group' % (kind, GROUPS[kind]))
            for kind in expect if kind not in kinds]


def queue_rows(queues, consumers, queue_max, rows, error=None):
    """One row per queue the groups consume: ``queues`` {name: {'messages'} or {'error'}} from the
    broker; ``consumers`` {queue: [group, ...]}; ``rows`` the worker rows (who is ready to consume)."""
    out = []
    for name in sorted(consumers):
        info = (queues or {}).get(name) or {}
        groups = sorted(consumers[name])
        ready = [row for row in rows if row['kind'] == 'worker' and row.get('group') in groups and row['healthy']]
        row = {'kind': 'queue', 'name': name, 'groups': groups, 'messages': info.get('messages'),
               'ready_workers': len(ready), 'reasons': []}
        if info.get('messages') is None:
            row['reasons'].append('length unknown: %s' % (info.get('error') or error or 'the broker did not answer'))
        elif info['messages'] > queue_max:
            row['reasons'].append('%d messages waiting (more than %d)' % (info['messages'], queue_max))
        elif info['messages'] and not ready:
            row['reasons'].append('%d messages waiting and no healthy worker here consumes it' % info['messages'])
        row['healthy'] = not row['reasons']
        out.append(row)
    return out


def _answer(result):
    result = result or {}
    return result.get('status') or result.get('error') or 'nothing'


def _base_row(kind, unit):
    row = dict(kind=kind, name=unit['name'], state=unit.get('state') or 'missing',
               running=bool(unit.get('running')), restarts=unit.get('restarts'),
               uptime=unit.get('uptime'), release=unit.get('release'), reasons=[])
    if not row['running']:
        row['reasons'].append('%s is %s' % (kind, row['state']))
    return row


def _process_row(kind, unit, heartbeat, now, ready_states, max_age):
    row = _base_row(kind, unit)
    # max: a file rewritten after `now` was read (a container's clock is the host's) is 0 s old.
    age = round(max(0.0, now - float(heartbeat['time'])), 1) if heartbeat and heartbeat.get('time') else None
    row['heartbeat_age'] = age
    row['heartbeat_state'] = (heartbeat or {}).get('state')
    fresh = age is not None and age <= max_age
    row['ready'] = bool(row['running'] and fresh and heartbeat.get('alive') and row['heartbeat_state'] in ready_states)
    if row['running']:
        if age is None:
            row['reasons'].append('no heartbeat file')
        elif not fresh:
            row['reasons'].append('heartbeat %ss old (frozen or hung: more than %ss)' % (age, max_age))
        elif not heartbeat.get('alive'):
            # The file is rewritten by its own thread: fresh, but the loop it watches stopped.
            tick = heartbeat.get('tick')
            row['reasons'].append('heartbeat says its loop stopped turning%s' % (
                ' (last turn %ss ago)' % round(max(0.0, now - float(tick)), 1) if tick else ''))
        elif row['heartbeat_state'] not in ready_states:
            row['reasons'].append('heartbeat says %s' % row['heartbeat_state'])
    return row


def cell(row, column):
    """The text of one table cell."""
    if column == '':
        return 'ok' if row['healthy'] else '!!'
    if column == 'NAME':
        return row['name']
    if column == 'STATE':
        return row.get('state') or '-'
    if column == 'READY':
        return 'yes' if row.get('ready') else 'no'
    if column == 'RESTARTS':
        return '-' if row.get('restarts') is None else str(row['restarts'])
    if column == 'UP':
        return duration(row.get('uptime')) if row.get('running') else '-'
    if column == 'RELEASE':
        return row.get('release') or '-'
    if column == 'HEARTBEAT':
        if row['kind'] == 'flower':
            return '-'
        age = row.get('heartbeat_age')
        return '-' if age is None else '%ss %s' % (age, row.get('heartbeat_state') or '?')
    if column == 'NODE':
        if row['kind'] == 'beat':
            lock = {True: 'holds lock', False: 'standby'}.get(row.get('holds_lock'), '-')
            tick = row.get('last_tick_age')
            return lock if tick is None else '%s, tick %ss ago' % (lock, tick)
        return row.get('node') or '-'
    if column == 'PING':
        return {True: 'yes', False: 'no'}.get(row.get('ping'), '-')
    if column in ('ACTIVE', 'RESERVED'):
        value = row.get(column.lower())
        return '-' if value is None else str(value)
    if column == 'POOL':
        return '%s x %s' % (row['pool'], row.get('concurrency')) if row.get('pool') else '-'
    raise KeyError(column)


def table(host, app, rows, queues, secrets=()):
    """The lines a person reads: a header, one line per process, the queues, then each
    unhealthy row's reasons and last log lines (secrets masked)."""
    grid = [list(COLUMNS)] + [[cell(row, column) for column in COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in grid) for i in range(len(COLUMNS))]
    healthy = all(row['healthy'] for row in rows + queues)
    lines = ['%s / %s: %s' % (host, app, 'healthy' if healthy else 'UNHEALTHY')]
    lines += ['  '.join(text.ljust(width) for text, width in zip(line, widths)).rstrip() for line in grid]
    for queue in queues:
        lines.append('%s  queue %s: %s messages; groups %s, %d healthy worker%s here' % (
            'ok' if queue['healthy'] else '!!', queue['name'],
            '?' if queue['messages'] is None else queue['messages'], ', '.join(queue['groups']),
            queue['ready_workers'], '' if queue['ready_workers'] == 1 else 's'))
    for row in rows + queues:
        if not row['healthy']:
            lines.append('!! %s %s: %s' % (row['kind'], row['name'], '; '.join(row['reasons'])))
            for log in row.get('log') or ():
                lines.append('     | ' + scrub(log, secrets))
    return lines


def problems(host, rows, queues):
    """One line per unhealthy row, for the failure message."""
    return ['%s: %s %s: %s' % (host, row['kind'], row['name'], '; '.join(row['reasons']))
            for row in rows + queues if not row['healthy']]
