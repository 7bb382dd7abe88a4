# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Gated rollouts of a Compose project's services.

``docker compose up`` replaces every outdated container of a service at
once and reports success before the new ones work. Here, before that:

- a worker service (label ``io.celeryops.component=worker``) surges: one new
  container beside the old ones (``up --no-recreate --scale n+1``), ready
  (its own health check, run with ``docker exec`` until it passes, then
  still running, not restarted, and passing again after a settle time, as
  the systemd rollout's units must stay up: a container that is healthy
  once and then crashes is no ready one), then one old container stopped
  with its grace period (Celery's warm shutdown) and removed; and so on.
  The service never has fewer ready containers.
- any other service (beat, a singleton; Flower, one published port) is
  recreated and must become ready.

On the first failure: the new container's last log lines are kept
(secrets masked), it is removed (surge) and the project files this run
changed are put back from their backups; a recreated service is recreated
again from the old files. The caller fails naming the service.

Plain Python over a small ``Docker`` interface: unit tests drive it with a
fake, the module with the real CLI.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import json
import time

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_rollout import RolloutFailed, scrub

WORKER_LABEL = 'io.celeryops.component'


class Docker(object):
    """The Docker and Compose commands the rollout uses."""

    def __init__(self, run, project_dir, project_name, files, sleep=time.sleep, clock=time.time):
        self.run = run  # run(argv, timeout) -> (rc, stdout, stderr)
        self.sleep = sleep
        self.clock = clock
        self.compose = ['docker', 'compose', '--project-directory', project_dir, '-p', project_name]
        for name in files:
            self.compose += ['-f', name]
        self.project_name = project_name

    def _ok(self, argv, timeout=300):
        rc, out, err = self.run(argv, timeout)
        if rc != 0:
            raise RuntimeError('%s failed (rc %s): %s' % (' '.join(argv[:6]), rc, (err or out).strip()))
        return out

    def model(self):
        """The project as Compose resolves it: service name -> its config."""
        return json.loads(self._ok(self.compose + ['config', '--format', 'json']))['services']

    def config_hash(self, service):
        out = self._ok(self.compose + ['config', '--hash', service])
        return out.split()[-1] if out.split() else ''

    def containers(self, service):
        """[(id, config hash)] of the service's containers, oldest first."""
        out = self._ok(['docker', 'ps', '-a', '--no-trunc', '--filter', 'label=com.docker.compose.project=%s'
                        % self.project_name, '--filter', 'label=com.docker.compose.service=%s' % service,
                        '--format', '{{.ID}} {{.Label "com.docker.compose.config-hash"}} {{.CreatedAt}}'])
        rows = [line.split(' ', 2) for line in out.splitlines() if line.strip()]
        return [(row[0], row[1] if len(row) > 1 else '') for row in sorted(rows, key=lambda row: row[2:])]

    def scale_up(self, service, count, timeout):
        self._ok(self.compose + ['up', '--detach', '--no-deps', '--no-recreate', '--scale',
                                 '%s=%d' % (service, count), service], timeout)

    def recreate(self, service, timeout):
        self._ok(self.compose + ['up', '--detach', '--no-deps', service], timeout)

    def stop_remove(self, container, grace):
        self._ok(['docker', 'stop', '--time', str(int(grace)), container], int(grace) + 60)
        self._ok(['docker', 'rm', container], 60)

    def restart(self, container, grace):
        self._ok(['docker', 'restart', '--time', str(int(grace)), container], int(grace) + 60)

    def remove(self, container):
        self.run(['docker', 'rm', '--force', container], 60)

    def restarts(self, container):
        """How often the container's restart policy restarted it (None: it is gone)."""
        rc, out, _err = self.run(['docker', 'inspect', '--format', '{{.RestartCount}}', container], 30)
        return int(out.strip()) if rc == 0 and out.strip().isdigit() else None

    def running(self, container, restarts=0):
        """Running, and not restarted by its policy since (a container that
        crashed and was restarted is not going to become ready)."""
        rc, out, _err = self.run(['docker', 'inspect', '--format',
                                  '{{.State.Running}} {{.State.Restarting}} {{.RestartCount}}', container], 30)
        return rc == 0 and out.split() == ['true', 'false', str(int(restarts))]

    def check(self, container, test):
        """Run the container's own health check once; True when it passes."""
        if not test or test[0] == 'NONE':
            return True  # no check of its own: running is all there is
        if test[0] == 'CMD-SHELL':
            argv = ['/bin/sh', '-c', test[1]]
        else:
            argv = list(test[1:] if test[0] == 'CMD' else test)
        rc, _out, _err = self.run(['docker', 'exec', container] + argv, 60)
        return rc == 0

    def logs(self, container, lines):
        _rc, out, err = self.run(['docker', 'logs', '--tail', str(lines), container], 30)
        return (out or '') + (err or '')


def _duration(value, default):
    """Seconds from a Compose duration ('90s', '1m30s', a number of ns in JSON)."""
    if value in (None, ''):
        return default
    if isinstance(value, (int, float)):
        return value / 1e9 if value > 1e6 else value
    total, number = 0.0, ''
    for char in str(value):
        if char.isdigit() or char == '.':
            number += char
        else:
            total += float(number or 0) * {'h': 3600, 'm': 60, 's': 1}.get(char, 0)
            number = ''
    return total + float(number or 0)


def _wait_ready(docker, container, test, timeout, restarts=0, settle=0):
    """(True, '') once the container's health check passes and, `settle` seconds later, it still
    runs, was not restarted, and passes again; else (False, why). A check that fails after the
    settle time is tried again until the deadline (one slow check is no crash); a stop or a
    restart by its policy is final."""
    deadline = docker.clock() + timeout
    while docker.clock() < deadline:
        if not docker.running(container, restarts):
            return False, 'the container stopped or restarted'
        if docker.check(container, test):
            if not settle:
                return True, ''
            docker.sleep(settle)
            if not docker.running(container, restarts):
                return False, 'it stopped or restarted within %ss of passing its health check' % settle
            if docker.check(container, test):
                return True, ''
        docker.sleep(1)
    return False, 'not ready within %ss' % timeout


def rollout(docker, restore, backups=None, timeout=300, log_lines=20, secrets=(), check_mode=False, settle=3):
    """Bring each outdated service to the project files, one container at a
    time for workers; return the result or raise RolloutFailed.

    ``restore(paths_to_backups)`` puts changed project files back.
    """
    backups = dict(backups or {})
    model = docker.model()
    result = {'changed': False, 'replaced': {}, 'recreated': []}
    for name in sorted(model, key=lambda svc: (model[svc].get('labels', {}).get(WORKER_LABEL) != 'worker', svc)):
        service = model[name]
        old = docker.containers(name)
        if not old:
            continue  # a new service: `compose up` creates it
        desired = docker.config_hash(name)
        outdated = [container for container, config in old if config != desired]
        if not outdated:
            continue
        result['changed'] = True
        if check_mode:
            if service.get('labels', {}).get(WORKER_LABEL) == 'worker':
                result['replaced'][name] = len(outdated)
            else:
                result['recreated'].append(name)
            continue
        test = (service.get('healthcheck') or {}).get('test')
        grace = _duration(service.get('stop_grace_period'), 10)
        if service.get('labels', {}).get(WORKER_LABEL) == 'worker':
            for container in outdated:
                before = set(cid for cid, _hash in docker.containers(name))
                docker.scale_up(name, len(before) + 1, timeout)
                new = [cid for cid, _hash in docker.containers(name) if cid not in before]
                ok, why = (_wait_ready(docker, new[0], test, timeout, settle=settle) if new
                           else (False, 'no container was created'))
                if not ok:
                    log = scrub(docker.logs(new[0], log_lines), secrets) if new else ''
                    for cid in new:
                        docker.remove(cid)
                    restored = restore(backups)
                    raise RolloutFailed(_message(name, why, 'its other containers were not touched', restored, log,
                                                 result), dict(result, failed_service=name, restored=restored,
                                                               logs=log.splitlines()))
                docker.stop_remove(container, grace)
                result['replaced'][name] = result['replaced'].get(name, 0) + 1
        else:
            try:
                docker.recreate(name, timeout)
                now = docker.containers(name)
                ok, why = _wait_ready(docker, now[-1][0], test, timeout, settle=settle) if now else (False, 'no container')
            except RuntimeError as error:
                ok, why, now = False, str(error), docker.containers(name)
            if not ok:
                log = scrub(docker.logs(now[-1][0], log_lines), secrets) if now else ''
                restored = restore(backups)
                back = 'NOT restored'
                try:
                    docker.recreate(name, timeout)
                    again = docker.containers(name)
                    if again and _wait_ready(docker, again[-1][0], test, timeout)[0]:
                        back = 'recreated from the previous files and ready'
                except RuntimeError as error:
                    back = 'NOT restored: %s' % error
                raise RolloutFailed(_message(name, why, back, restored, log, result),
                                    dict(result, failed_service=name, restored=restored, logs=log.splitlines()))
            result['recreated'].append(name)
    return result


def rolling_restart(docker, timeout=300, log_lines=20, secrets=(), check_mode=False, settle=3):
    """Restart every worker container in turn (its grace period: a warm
    shutdown), each ready again before the next; raise RolloutFailed at the
    first that is not, naming it."""
    model = docker.model()
    result = {'changed': False, 'restarted': []}
    for name in sorted(svc for svc in model if model[svc].get('labels', {}).get(WORKER_LABEL) == 'worker'):
        test = (model[name].get('healthcheck') or {}).get('test')
        grace = _duration(model[name].get('stop_grace_period'), 10)
        for container, _hash in docker.containers(name):
            result['changed'] = True
            if check_mode:
                result['restarted'].append(container)
                continue
            restarts = docker.restarts(container) or 0
            docker.restart(container, grace)
            ok, why = _wait_ready(docker, container, test, timeout, restarts, settle)
            if not ok:
                log = scrub(docker.logs(container, log_lines), secrets)
                raise RolloutFailed('container %s of service %s did not come back ready after its restart (%s); '
                                    'the containers after it were not touched. Last log lines:\n%s'
                                    % (container[:12], name, why, log.rstrip() or '(none)'),
                                    dict(result, failed_service=name, logs=log.splitlines()))
            result['restarted'].append(container)
    return result


def _message(name, why, back, restored, log, result):
    done = ['%s (%d)' % (svc, count) for svc, count in sorted(result['replaced'].items())] + result['recreated']
    return ('service %s: a new container did not become ready (%s); %s%s. Done before it: %s. '
            'Last log lines:\n%s' % (name, why, back, ('; files restored: %s' % ', '.join(restored)) if restored else '',
                                     ', '.join(done) or 'nothing', log.rstrip() or '(none)'))
