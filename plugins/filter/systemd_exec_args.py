# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_exec_args
short_description: Quote literal arguments for a systemd ExecStart= line
version_added: 0.1.0
description:
  - Doubles C(%) and C($) so systemd expands nothing in them, and double-quotes arguments that hold blanks or quotes.
  - Returns the arguments joined by single spaces.
options:
  _input:
    description: The arguments.
    type: list
    elements: str
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: A unit line
  ansible.builtin.debug:
    msg: "ExecStart=/usr/bin/celery {{ ['-A', 'proj', 'worker'] | celeryops.deploy.systemd_exec_args }}"
"""

RETURN = r"""
_value:
  description: The quoted arguments joined by spaces.
  type: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_exec import exec_args
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def systemd_exec_args(args):
    """Filter entry point: quote ``args`` for ExecStart=."""
    return exec_args(list(args))


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(systemd_exec_args=systemd_exec_args)
