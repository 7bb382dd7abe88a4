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
