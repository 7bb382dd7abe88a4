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
