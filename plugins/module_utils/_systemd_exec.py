# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Quoting of literal arguments for systemd ExecStart= lines (private helper).

systemd expands ``%`` specifiers and ``$`` variables in ExecStart= before it
splits the line; an argument that must arrive unchanged has ``%`` doubled,
``$`` doubled and, when it holds blanks or quotes, double quotes around it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

_NEEDS_QUOTES = re.compile(r'[\s"\'\\;]')


def exec_arg(arg):
    """Return one literal argument quoted for ExecStart=."""
    if not isinstance(arg, str):
        raise TypeError('ExecStart arguments must be strings, not %s' % type(arg).__name__)
    if '\n' in arg or '\x00' in arg:
        raise ValueError('ExecStart arguments must not contain line breaks or NUL bytes')
    text = arg.replace('%', '%%').replace('$', '$$')
    if arg == ';' or not text:
        return '"%s"' % text
    if _NEEDS_QUOTES.search(text):
        return '"%s"' % text.replace('\\', '\\\\').replace('"', '\\"')
    return text


def exec_args(args):
    """Join literal arguments into an ExecStart= command line fragment."""
    return ' '.join(exec_arg(arg) for arg in args)


def launcher_exec_start(base_dir, link, argv, specifier_args=()):
    """ExecStart= of a unit that runs Celery through the launcher from its release link.

    ``link`` is the instance's link under ``<base_dir>/instances`` (``beat``,
    ``worker-io@%i``); ``argv`` the literal Celery arguments (quoted here);
    ``specifier_args`` follow unquoted, for the systemd specifiers they hold
    (``--hostname=io%i@%H``).
    """
    line = '%s/instances/%s/bin/python %s/celeryops-celery.py %s' % (base_dir, link, base_dir, exec_args(argv))
    return ' '.join([line] + list(specifier_args))
