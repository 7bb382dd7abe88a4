# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Gated rollouts of systemd units: one instance at a time, each ready
before the next is touched, the first failure put back and reported.

The units are ``Type=notify``: ``systemctl restart`` returns once the
instance said ``READY=1`` (a worker consumes, beat ran a pass, Flower
serves), or fails after its ``TimeoutStartSec``. After that the instance
must stay up for a short settle time with the same main PID (a worker that
crashes just after it connected is not a success).

A release is the virtualenv an instance runs: each instance starts through
its own symlink (``instances/<unit>`` -> ``releases/<key>/venv``), flipped
right before that instance restarts, so instances not yet moved never see
the new code, and one put back after a failure runs the old code whenever
it starts again (a crash, a restart by hand).

Files the run changed (unit files, env files) were written with backups;
on a failure the backups of files that no instance has yet started with
successfully are moved back. Files proven by an instance stay: it works
with them.

The sequencing is plain Python over a small ``System`` interface, so the
unit tests drive it with a fake and the module with the real systemctl.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import shutil
import time

# user:password@ in URLs of log lines: the password goes.
URL_PASSWORD_RE = re.compile(r'(://[^/\s:@]*:)[^@\s]+@')
MASK = '********'


def scrub(text, secrets=()):
    """``text`` with every secret and every URL password masked."""
    for secret in sorted((s for s in secrets or () if s), key=len, reverse=True):
        text = text.replace(secret, MASK)
    return URL_PASSWORD_RE.sub(r'\1' + MASK + '@', text)


class RolloutFailed(Exception):
    """The first instance that did not become ready; the result says what was put back."""

    def __init__(self, message, result):
        super(RolloutFailed, self).__init__(message)
        self.result = result


class System(object):
    """What the rollout needs from the host (the module passes a real one)."""

    def __init__(self, run, sleep=time.sleep, clock=time.time):
        # run(argv, timeout) -> (rc, stdout, stderr)
        self.run = run
        self.sleep = sleep
        self.clock = clock

    def show(self, unit):
        rc, out, _err = self.run(['systemctl', 'show', '--property=ActiveState,SubState,MainPID,NRestarts,Result',
                                  unit], 30)
        props = {}
        for line in out.splitlines():
            if '=' in line:
                key, value = line.split('=', 1)
                props[key] = value
        return props

    def restart(self, unit, timeout):
        # A unit that hit its start limit must be reset, or systemd refuses to start it.
        self.run(['systemctl', 'reset-failed', unit], 30)
        return self.run(['systemctl', 'restart', unit], timeout)

    def stop(self, unit, timeout):
        return self.run(['systemctl', 'stop', unit], timeout)

    def daemon_reload(self):
        return self.run(['systemctl', 'daemon-reload'], 120)

    def journal(self, unit, since, lines):
        _rc, out, _err = self.run(['journalctl', '--unit', unit, '--no-pager', '--output', 'cat', '--lines',
                                   str(lines), '--since', '@%d' % int(since)], 30)
        return out

    # Files and links: plain os calls, kept here so that tests can fake them.
    def readlink(self, path):
        return os.readlink(path) if os.path.islink(path) else None

    def set_link(self, path, target):
        """Point ``path`` at ``target`` atomically (rename over the old link)."""
        parent = os.path.dirname(path)
        if not os.path.isdir(parent):
            os.makedirs(parent, 0o755)
        tmp = '%s.celeryops-new' % path
        if os.path.lexists(tmp):
            os.unlink(tmp)
        os.symlink(target, tmp)
        os.rename(tmp, path)

    def remove(self, path):
        if os.path.lexists(path):
            os.unlink(path)

    def restore(self, path, backup):
        shutil.move(backup, path)

    def exists(self, path):
        return os.path.lexists(path)


def plan(instances, system):
    """Which instances to move, and how: one dict per instance, in order.

    An instance is restarted when its release link moves or ``restart`` is
    set (its settings changed), started when it is not active, else left.
    """
    steps = []
    for item in instances:
        props = system.show(item['unit'])
        active = props.get('ActiveState') == 'active'
        link, target = item.get('link'), item.get('target')
        previous = system.readlink(link) if link else None
        moves = bool(link and target and previous != target)
        if moves or item.get('restart'):
            action = 'restart' if active else 'start'
        elif not active:
            action = 'start'
        else:
            action = None
        steps.append(dict(item, action=action, previous=previous, moves=moves, was_active=active))
    return steps


def _ready(system, unit, timeout, settle):
    """(True, pid) when the unit restarted, said READY and stays up; else (False, why)."""
    rc, _out, err = system.restart(unit, timeout)
    if rc != 0:
        return False, (err.strip() or 'systemctl restart failed (rc %s)' % rc)
    first = system.show(unit)
    if first.get('ActiveState') != 'active':
        return False, 'not active after start (%s/%s)' % (first.get('ActiveState'), first.get('SubState'))
    system.sleep(settle)
    later = system.show(unit)
    if later.get('ActiveState') != 'active' or later.get('MainPID') != first.get('MainPID'):
        return False, 'stopped or restarted within %ss of becoming ready (%s/%s, main PID %s -> %s)' % (
            settle, later.get('ActiveState'), later.get('SubState'), first.get('MainPID'), later.get('MainPID'))
    return True, first.get('MainPID')


def rollout(instances, system, backups=None, timeout=600, settle=3, journal_lines=20, secrets=(),
            check_mode=False):
    """Move ``instances`` one at a time; return the result dict or raise RolloutFailed.

    ``instances``: dicts with ``unit``, optional ``link``/``target`` (the
    release symlink and where it must point), ``restart`` (settings
    changed), ``files`` (paths this instance starts with that this run
    changed) and ``timeout`` (seconds for stop + start).
    ``backups``: path -> backup file, for the files the run changed.
    """
    backups = dict(backups or {})
    steps = plan(instances, system)
    result = {'changed': any(step['action'] for step in steps), 'moved': [], 'started': [], 'unchanged': []}
    if check_mode:
        for step in steps:
            key = {'restart': 'moved', 'start': 'started'}.get(step['action'], 'unchanged')
            result[key].append(step['unit'])
        return result
    proven = set()
    for step in steps:
        unit = step['unit']
        if not step['action']:
            result['unchanged'].append(unit)
            continue
        if step['moves']:
            system.set_link(step['link'], step['target'])
        started_at = system.clock()
        ok, detail = _ready(system, unit, step.get('timeout') or timeout, settle)
        if ok:
            proven.update(step.get('files') or ())
            result['moved' if step['was_active'] else 'started'].append(unit)
            continue
        raise RolloutFailed(*_put_back(system, step, detail, started_at, proven, backups, result,
                                       step.get('timeout') or timeout, settle, journal_lines, secrets))
    for path, backup in backups.items():
        # Every file of the run is in service now: the backups go.
        if system.exists(backup):
            system.remove(backup)
    return result


def _last_start(system, unit, since, lines):
    """The journal of the failed start: from its last 'Starting' line, the last ``lines``.

    journald gets a dying process's last lines (the exception) a moment
    after systemctl reports the failure: wait a little before reading.
    """
    system.sleep(1)
    text = system.journal(unit, since - 1, 300).splitlines()
    starts = [index for index, line in enumerate(text) if line.startswith('Starting ')]
    if starts:
        text = text[starts[-1]:]
    return '\n'.join(text[-int(lines):])


def _put_back(system, step, detail, started_at, proven, backups, result, timeout, settle, journal_lines, secrets):
    """Undo what this run did to the failed instance; (message, result)."""
    unit = step['unit']
    log = scrub(_last_start(system, unit, started_at, journal_lines), secrets).rstrip()
    restored = []
    for path in step.get('files') or ():
        backup = backups.get(path)
        if path not in proven and backup and system.exists(backup):
            system.restore(path, backup)
            restored.append(path)
    if any(path.endswith(('.service', '.target')) for path in restored):
        system.daemon_reload()
    if step['moves']:
        if step['previous']:
            system.set_link(step['link'], step['previous'])
        else:
            system.remove(step['link'])
    back = 'not restarted (it was not running before)'
    if step['was_active'] and (step['previous'] or not step['moves']):
        ok, why = _ready(system, unit, timeout, settle)
        back = 'back on the previous release and ready' if ok else 'NOT ready on the previous release either: %s' % why
    else:
        # A new instance with nothing to go back to: stop its start loop.
        system.stop(unit, timeout)
        system.run(['systemctl', 'reset-failed', unit], 30)
    result = dict(result, failed_unit=unit, restored=restored, put_back=back, journal=log.splitlines())
    message = ('%s did not become ready: %s. It is %s%s; no other instance was touched after it '
               '(moved before it: %s). Last journal lines:\n%s' % (
                   unit, scrub(detail, secrets), back,
                   (', files restored: %s' % ', '.join(restored)) if restored else '',
                   ', '.join(result['moved'] + result['started']) or 'none', log or '(none)'))
    return message, result


def prune(releases, referenced, keep):
    """The release directories to delete: not referenced and not among the newest ``keep``.

    ``releases``: list of (path, mtime). ``referenced``: paths in use.
    """
    newest_first = sorted(releases, key=lambda item: item[1], reverse=True)
    kept = set(path for path, _mtime in newest_first[:max(int(keep), 1)])
    return [path for path, _mtime in newest_first if path not in kept and path not in referenced]
