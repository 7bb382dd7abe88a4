# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Rendering of [Service] directives from a mapping (private helper).

Lets users relax one sandbox directive with a variable instead of editing a
template: ``true``/``false`` become ``yes``/``no``, ``None`` leaves the
directive out, lists are joined by spaces, everything else is written as is.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_NAME = re.compile(r'^[A-Z][A-Za-z0-9]*$')


def render_directives(directives):
    """Return ``Name=value`` lines, sorted by name, for a mapping of directives."""
    if not isinstance(directives, dict):
        raise TypeError('directives must be a mapping of systemd directive names to values')
    lines = []
    for name in sorted(directives):
        value = directives[name]
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError('%r is not a systemd directive name' % (name,))
        if value is None:
            continue
        if isinstance(value, bool):
            text = 'yes' if value else 'no'
        elif isinstance(value, (list, tuple)):
            text = ' '.join(str(item) for item in value)
        else:
            text = str(value)
        if '\n' in text:
            raise ValueError('the value of %s must be one line' % name)
        lines.append('%s=%s' % (name, text))
    return '\n'.join(lines)


# Tried first when the sandbox as a whole fails and no single directive
# does: the one most often missing in containers (user namespaces).
LIKELY_REFUSED = ('PrivateUsers', 'ProtectProc', 'ProcSubset', 'PrivateDevices', 'ProtectHostname',
                  'ProtectClock', 'ProtectKernelLogs', 'MemoryDenyWriteExecute', 'SystemCallFilter')


def refused_directives(directives, run):
    """Names of directives the host's systemd refuses to start a unit with.

    ``run(properties)`` starts a transient unit with those ``Name=value``
    properties and returns (rc, stderr). First all at once (one unit when
    the host honours them all); when that fails, each alone, then, for
    refusals that only combinations cause (PrivateUsers= with
    ProtectProc= in a container whose /proc is masked), one directive at a
    time is left out, likely culprits first, until the rest starts. A
    property systemd-run cannot set on a transient unit ("Unknown
    assignment") cannot be probed and is never reported.
    """
    lines = dict((line.split('=', 1)[0], line) for line in render_directives(directives).splitlines())

    def passes(names):
        rc, _err = run([lines[name] for name in sorted(names)])
        return rc == 0

    current = set(lines)
    if passes(current):
        return []
    refused = []
    for name in sorted(lines):
        rc, err = run([lines[name]])
        if rc != 0:
            current.discard(name)
            if 'nknown assignment' not in err and 'annot set property' not in err:
                refused.append(name)
    order = [name for name in LIKELY_REFUSED if name in lines] + sorted(set(lines) - set(LIKELY_REFUSED))
    while current and not passes(current):
        for name in order:
            if name in current and passes(current - set([name])):
                current.discard(name)
                refused.append(name)
                break
        else:
            # No one directive makes the rest start: report them all rather
            # than write units that cannot run.
            refused.extend(sorted(current))
            break
    return sorted(refused, key=lambda name: (name not in LIKELY_REFUSED, name))


def probe_key(directives, user, systemd_version, kernel, boot_id, init_started):
    """What a probe's answer depends on: the directives and user, the
    systemd and kernel, and this boot of this machine or container (the
    host's boot id, and when PID 1 started: a container restarted with
    another seccomp profile or LXC config starts a new PID 1)."""
    import hashlib
    import json
    material = json.dumps([render_directives(directives), user, systemd_version.strip(), kernel.strip(),
                           boot_id.strip(), str(init_started).strip()])
    return hashlib.sha256(material.encode('utf-8')).hexdigest()


def cached_refusals(path, key):
    """The refused directives recorded under ``key`` in the cache file, or
    None (no file, another key, unreadable: probe again)."""
    import json
    try:
        with open(path) as handle:
            entry = json.load(handle)
    except (IOError, OSError, ValueError):
        return None
    if not isinstance(entry, dict) or entry.get('key') != key or not isinstance(entry.get('refused'), list):
        return None
    return [str(name) for name in entry['refused']]


def save_refusals(path, key, refused):
    """Record a probe's answer (one entry: a host has one sandbox), written
    whole or not at all."""
    import json
    import os
    import tempfile
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, 0o755)
    handle, tmp = tempfile.mkstemp(dir=directory, prefix='.sandbox-')
    try:
        with os.fdopen(handle, 'w') as out:
            json.dump({'key': key, 'refused': list(refused)}, out)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
