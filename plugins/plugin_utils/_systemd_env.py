# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Quoting of values for systemd EnvironmentFile= files (private helper).

systemd reads single-quoted values literally and, in double-quoted values,
treats backslash, double quote, backtick and dollar specially. A single-quoted
value is therefore the safest form; values that contain a single quote are
double-quoted with those four characters escaped. Newlines and NUL bytes are
refused: a secret with a line break would be cut in two silently.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

_DOUBLE_QUOTE_SPECIALS = ('\\', '"', '`', '$')


def quote_env_value(value):
    """Return ``value`` quoted for a systemd environment file."""
    if not isinstance(value, str):
        raise TypeError('environment values must be strings, not %s' % type(value).__name__)
    if '\n' in value or '\r' in value or '\x00' in value:
        raise ValueError('environment values must not contain line breaks or NUL bytes')
    if "'" not in value:
        return "'%s'" % value
    escaped = ''.join('\\' + char if char in _DOUBLE_QUOTE_SPECIALS else char for char in value)
    return '"%s"' % escaped
