# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that quote values for systemd unit and env files.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils.common.text.converters import to_text
from ansible_collections.celeryops.deploy.plugins.plugin_utils._systemd_env import quote_env_value
from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_exec import exec_args, launcher_exec_start
from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_unit import render_directives
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def systemd_directives(directives):
    return render_directives(dict(directives))


def systemd_env_quote(value):
    """Quote value for an EnvironmentFile."""
    return quote_env_value(to_text(value))


def systemd_exec_args(args):
    """Quote args for ExecStart=."""
    return exec_args(list(args))


def systemd_exec_start(argv, base_dir, link):
    """ExecStart= running argv through the launcher from the release link."""
    return launcher_exec_start(base_dir, link, list(argv))


class FilterModule(object):
    """systemd filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_systemd_directives=systemd_directives, systemd_env_quote=systemd_env_quote,
                          systemd_exec_args=systemd_exec_args, _systemd_exec_start=systemd_exec_start)
