# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: systemd_env_quote
short_description: Quote a value for a systemd environment file
version_added: 0.1.0
description:
  - Quotes a string so that systemd's C(EnvironmentFile=) reads back exactly that string.
  - Single quotes when the value has none, else double quotes with C(\\), C("), C(`) and C($) escaped.
  - Fails on line breaks and NUL bytes, which an environment file cannot carry.
options:
  _input:
    description: The value to quote.
    type: str
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Write an environment file line
  ansible.builtin.copy:
    content: "CELERY_BROKER_URL={{ broker_url | celeryops.deploy.systemd_env_quote }}\n"
    dest: /etc/celery/app/celery.env
    mode: "0640"
"""

RETURN = r"""
_value:
  description: The quoted value.
  type: str
"""

from ansible.module_utils.common.text.converters import to_text

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_env import quote_env_value
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def systemd_env_quote(value):
    """Filter entry point: quote ``value`` for an EnvironmentFile."""
    return quote_env_value(to_text(value))


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(systemd_env_quote=systemd_env_quote)
