# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_directives
short_description: Render a mapping of systemd directives as unit file lines
version_added: 0.1.0
description:
  - Returns C(Name=value) lines sorted by name. C(true)/C(false) become C(yes)/C(no),
    C(null) leaves the directive out, lists are joined by spaces.
options:
  _input:
    description: Directive names mapped to values.
    type: dict
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Render a sandbox
  ansible.builtin.debug:
    msg: "{{ {'NoNewPrivileges': true, 'PrivateUsers': none} | celeryops.deploy.systemd_directives }}"
  # NoNewPrivileges=yes
"""

RETURN = r"""
_value:
  description: The lines, joined by newlines.
  type: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_unit import render_directives
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def systemd_directives(directives):
    """Filter entry point."""
    return render_directives(dict(directives))


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(systemd_directives=systemd_directives)
