# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Reading a host's Celery deployment for ``celeryops.deploy.status``, read-only.

systemd: the instance links under ``<base_dir>/instances`` say what the roles
deployed (``worker-io@1``, ``beat``, ``flower``); one ``systemctl show`` gives
every unit's state, restarts, start time, command line (node name, queues)
and env files; the heartbeat files sit in ``run_dir``. The Celery broadcast
runs once per host with a worker unit's own interpreter, user and env files
(``systemd-run --pipe --wait``), so it reaches the broker exactly as the
workers do.

Compose: the project's containers (``docker ps -a`` by project label, one
``docker inspect``), the services and replica counts the project files ask
for (``docker compose config``), the heartbeat file inside each container,
and the broadcast through a running worker container's entry point (which
reads the secrets).

Everything goes through a ``run(argv, timeout) -> (rc, stdout, stderr)`` and
an ``http(url, auth) -> {'status'|'error'}`` that the module passes in (the
unit tests pass fakes).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import json
import os

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_status as status
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_compose import EXEC_PATH, HEARTBEAT_FILE

SHOW_PROPERTIES = 'Id,LoadState,ActiveState,SubState,NRestarts,ActiveEnterTimestamp,ExecStart,User,EnvironmentFiles'
DEFAULT_QUEUE = 'celery'


def argv_option(argv, name):
    """The value of ``--name=value`` (or ``--name value``) in a command line, else None."""
    for index, arg in enumerate(argv):
        if arg.startswith(name + '='):
            return arg.split('=', 1)[1]
        if arg == name and index + 1 < len(argv):
            return argv[index + 1]
    return None


def exec_argv(exec_start):
    """The argv of ``systemctl show -p ExecStart``'s ``{ path=... ; argv[]=... ; ... }``."""
    marker = 'argv[]='
    if marker not in (exec_start or ''):
        return []
    return exec_start.split(marker, 1)[1].split(' ; ', 1)[0].split()


def group_of(instance):
    """``worker-io@1`` -> ``io``."""
    return instance[len('worker-'):].split('@', 1)[0]


def env_files(value):
    """``EnvironmentFiles=/etc/x.env (ignore_errors=no)`` lines -> [('/etc/x.env', False)]."""
    files = []
    for line in (value or '').splitlines():
        path, _sep, rest = line.strip().partition(' ')
        if path:
            files.append((path, 'ignore_errors=yes' in rest))
    return files


def iso_time(value):
    """Docker's ``2026-12-07T03:47:50.571583759Z`` -> epoch seconds, else None."""
    if not value or value.startswith('0001-'):
        return None
    try:
        stamp = datetime.datetime.strptime(value[:19], '%Y-%m-%dT%H:%M:%S')
    except ValueError:
        return None
    return (stamp - datetime.datetime(1970, 1, 1)).total_seconds()


class Reader(object):
    def __init__(self, params, run, http, read_file, now):
        self.params = params
        self.run = run
        self.http = http
        self.read_file = read_file
        self.now = now
        self.secrets = [s for s in params.get('secrets') or () if s]

    def budget(self):
        """Seconds the broadcast script may take in all: its own alarm; the caller waits a little longer."""
        return int(4 * self.params['timeout'] + 15)

    def inspect(self, argv_prefix, nodes, queues, launcher=None):
        """The broadcast's reply ({} with 'error' when it could not run), every string scrubbed."""
        args = json.dumps({'app': self.params['app_module'], 'nodes': sorted(nodes), 'queues': sorted(queues),
                           'timeout': self.params['timeout'], 'budget': self.budget(), 'launcher': launcher})
        rc, out, err = self.run(argv_prefix + ['-c', status.INSPECT_SCRIPT, args], self.budget() + 10)
        try:
            reply = json.loads(out)
        except ValueError:
            reply = {'error': 'the inspect did not run (rc %s): %s' % (rc, (err or out).strip()[-300:])}
        return status.scrub_all(reply, self.secrets)

    def flower(self, unit):
        url = self.params.get('flower_url')
        health = self.http(url, None) if url else {'error': 'no flower_url'}
        login = None
        credentials = self.params.get('flower_credentials')
        if credentials and url:
            root = url.rsplit('/healthcheck', 1)[0] + '/'
            login = {'with': self.http(root, credentials), 'without': self.http(root, None)}
        return status.flower_row(unit, health, login)

    def report(self, rows, queues):
        return {'rows': rows, 'queues': queues,
                'healthy': all(row['healthy'] for row in rows + queues)}


class SystemdReader(Reader):
    """A systemd host: units, heartbeat files, instance links."""

    def unit_name(self, instance):
        return '%s-%s.service' % (self.params['app'], instance)

    def read(self):
        base = self.params['base_dir']
        instances_dir = os.path.join(base, 'instances')
        instances = sorted(os.listdir(instances_dir)) if os.path.isdir(instances_dir) else []
        units = [self.unit_name(name) for name in instances]
        shown = {}
        if units:
            rc, out, err = self.run(['systemctl', 'show', '--timestamp=unix', '--property=' + SHOW_PROPERTIES]
                                    + units, 30)
            if rc != 0:
                row = status.missing_row('host', 'systemd', 'systemctl show failed (rc %s): %s' % (
                    rc, status.scrub(err.strip()[-300:], self.secrets)))
                return self.report([row], [])
            shown = dict((props.get('Id'), props) for props in status.parse_show(out))
        now = self.now()
        facts = {}
        for name, unit in zip(instances, units):
            props = shown.get(unit, {})
            argv = exec_argv(props.get('ExecStart'))
            started = status.unix_time(props.get('ActiveEnterTimestamp'))
            running = props.get('ActiveState') == 'active' and props.get('SubState') == 'running'
            link = os.path.join(instances_dir, name)
            state = '%s/%s' % (props.get('ActiveState', '?'), props.get('SubState', '?'))
            if props.get('LoadState') not in (None, 'loaded'):
                state = '%s (%s)' % (state, props['LoadState'])
            facts[name] = {
                'unit': {'name': name, 'state': state,
                         'running': running, 'restarts': _int(props.get('NRestarts')),
                         'uptime': now - started if running and started else None,
                         'release': status.release_of(os.path.realpath(link) if os.path.islink(link) else '')},
                'props': props, 'argv': argv,
                'heartbeat': status.parse_heartbeat(self.read_file(
                    os.path.join(self.params['run_dir'], '%s.heartbeat' % name))),
            }
        workers = [name for name in instances if name.startswith('worker-')]
        nodes = dict((name, argv_option(facts[name]['argv'], '--hostname')) for name in workers)
        consumers = {}
        for name in workers:
            group = group_of(name)
            for queue in (argv_option(facts[name]['argv'], '--queues') or DEFAULT_QUEUE).split(','):
                consumers.setdefault(queue, set()).add(group)
        reply = {}
        if workers:
            # A loaded unit's own settings, a running one's by preference.
            loaded = [name for name in workers if facts[name]['props'].get('LoadState') == 'loaded'] or workers
            chosen = facts[([name for name in loaded if facts[name]['unit']['running']] or loaded)[0]]
            reply = self.inspect(self.runner(chosen), [n for n in nodes.values() if n], consumers,
                                 chosen['argv'][1] if len(chosen['argv']) > 1 else None)
        rows = []
        for name in instances:
            fact = facts[name]
            if name in nodes:
                row = status.worker_row(fact['unit'], group_of(name), fact['heartbeat'],
                                        now, nodes[name], reply, self.params['heartbeat_max_age'])
            elif name == 'beat':
                row = status.beat_row(fact['unit'], fact['heartbeat'], now, self.params['heartbeat_max_age'])
            elif name == 'flower':
                row = self.flower(fact['unit'])
            else:
                continue
            row['unit'] = self.unit_name(name)
            if not row['healthy']:
                row['log'] = self.log(row['unit'])
            rows.append(row)
        rows += status.expected_rows(rows, self.params['expect'])
        queues = status.queue_rows(reply.get('queues'), consumers, self.params['queue_max'], rows, reply.get('error'))
        return self.report(rows, queues)

    def runner(self, fact):
        """systemd-run with the worker unit's interpreter, user and env files."""
        props = fact['props']
        argv = ['systemd-run', '--quiet', '--pipe', '--wait', '--collect', '--service-type=exec',
                # the unit ends with its budget even when this client is killed first
                '--property=RuntimeMaxSec=%d' % (self.budget() + 5)]
        if props.get('User'):
            argv.append('--property=User=%s' % props['User'])
        for path, optional in env_files(props.get('EnvironmentFiles')):
            argv.append('--property=EnvironmentFile=%s%s' % ('-' if optional else '', path))
        python = fact['argv'][0] if fact['argv'] else 'python3'
        return argv + [python]

    def log(self, unit):
        rc, out, _err = self.run(['journalctl', '--unit', unit, '--lines', str(self.params['log_lines']),
                                  '--no-pager', '--output', 'short-iso'], 30)
        return [status.scrub(line, self.secrets) for line in out.splitlines()[-self.params['log_lines']:]]


class ComposeReader(Reader):
    """A Compose host: the project's containers and files."""

    def read(self):
        project = self.params['project_name']
        rc, out, err = self.run(['docker', 'ps', '-a', '--filter', 'label=com.docker.compose.project=%s' % project,
                                 '--format', '{{.ID}}'], 30)
        ids = out.split() if rc == 0 else []
        containers = []
        if ids:
            rc, out, err = self.run(['docker', 'inspect'] + ids, 30)
            containers = json.loads(out) if rc == 0 else []
        if rc != 0:
            row = status.missing_row('host', 'docker', 'docker failed (rc %s): %s' % (
                rc, status.scrub(err.strip()[-300:], self.secrets)))
            return self.report([row], [])
        containers.sort(key=lambda c: c['Name'])
        now = self.now()
        facts = []
        for container in containers:
            labels = container['Config'].get('Labels') or {}
            state = container['State']
            running = state.get('Status') == 'running'
            started = iso_time(state.get('StartedAt'))
            argv = container['Config'].get('Cmd') or []
            fact = {
                'id': container['Id'][:12], 'service': labels.get('com.docker.compose.service', '?'),
                'group': labels.get('io.celeryops.group'),
                'component': labels.get('io.celeryops.component'), 'argv': argv,
                'hostname': container['Config'].get('Hostname'),
                'unit': {'name': container['Name'].lstrip('/'), 'state': state.get('Status', '?'), 'running': running,
                         'restarts': container.get('RestartCount'),
                         'uptime': now - started if running and started else None,
                         'release': container['Config'].get('Image'),
                         'health': (state.get('Health') or {}).get('Status')},
                'heartbeat': None,
            }
            if running and fact['component'] in ('worker', 'beat'):
                rc, out, _err = self.run(['docker', 'exec', fact['id'], 'cat', HEARTBEAT_FILE], 15)
                fact['heartbeat'] = status.parse_heartbeat(out) if rc == 0 else None
            facts.append(fact)
        workers = [fact for fact in facts if fact['component'] == 'worker']
        consumers = {}
        nodes = {}
        for fact in workers:
            group = fact['group'] or fact['service']
            nodes[fact['id']] = '%s@%s' % (group, fact['hostname'])
            for queue in (argv_option(fact['argv'], '--queues') or DEFAULT_QUEUE).split(','):
                consumers.setdefault(queue, set()).add(group)
        reply = {}
        runners = [fact for fact in workers if fact['unit']['running']]
        if runners:
            launcher = [arg for arg in runners[0]['argv'] if arg.endswith('.py')][:1]
            reply = self.inspect(['docker', 'exec', runners[0]['id'], '/bin/sh', EXEC_PATH, 'python3'],
                                 list(nodes.values()), consumers, launcher[0] if launcher else None)
        elif workers:
            reply = {'error': 'no worker container runs'}
        rows = []
        for fact in facts:
            if fact['component'] == 'worker':
                row = status.worker_row(fact['unit'], fact['group'] or fact['service'], fact['heartbeat'], now,
                                        nodes[fact['id']], reply, self.params['heartbeat_max_age'])
            elif fact['component'] == 'beat':
                row = status.beat_row(fact['unit'], fact['heartbeat'], now, self.params['heartbeat_max_age'])
            elif fact['component'] == 'flower':
                row = self.flower(fact['unit'])
            elif fact['component'] == 'broker':
                row = status.broker_row(fact['unit'])
            else:
                continue
            row['container'] = fact['id']
            if not row['healthy']:
                row['log'] = self.log(fact['id'])
            rows.append(row)
        rows += self.missing(facts)
        rows += status.expected_rows(rows, self.params['expect'])
        queues = status.queue_rows(reply.get('queues'), consumers, self.params['queue_max'], rows, reply.get('error'))
        return self.report(rows, queues)

    def missing(self, facts):
        """A row for each replica the project files ask for that has no container (one row
        naming the project when its files do not load)."""
        files = [arg for name in self.params['project_files']
                 for arg in ('--file', os.path.join(self.params['project_dir'], name))]
        rc, out, err = self.run(['docker', 'compose', '--project-name', self.params['project_name'],
                                 '--project-directory', self.params['project_dir']] + files
                                + ['config', '--format', 'json'], 30)
        if rc != 0:
            row = status.missing_row('project', self.params['project_name'])
            row['reasons'] = ['the project files do not load: %s' % status.scrub(err.strip()[-300:], self.secrets)]
            return [row]
        rows = []
        for service, spec in sorted((json.loads(out).get('services') or {}).items()):
            want = int(((spec.get('deploy') or {}).get('replicas')) or spec.get('scale') or 1)
            have = len([fact for fact in facts if fact['service'] == service])
            component = (spec.get('labels') or {}).get('io.celeryops.component', 'service')
            rows += [status.missing_row(component, '%s (replica %d of %d)' % (service, index + 1, want))
                     for index in range(have, want)]
        return rows

    def log(self, container):
        rc, out, err = self.run(['docker', 'logs', '--tail', str(self.params['log_lines']), container], 30)
        lines = (out + err).splitlines()[-self.params['log_lines']:]
        return [status.scrub(line, self.secrets) for line in lines]


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
