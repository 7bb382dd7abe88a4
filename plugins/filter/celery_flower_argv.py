# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_flower_argv
short_description: The celery arguments that run Flower
version_added: 0.1.0
description:
  - Returns the arguments after the C(celery) executable. Credentials are never arguments;
    Flower reads them from C(FLOWER_BASIC_AUTH).
options:
  _input:
    description: The C(-A) argument (app module).
    type: str
    required: true
  address:
    description: Listen address.
    type: str
    default: 127.0.0.1
  port:
    description: Listen port.
    type: int
    default: 5555
  url_prefix:
    description: Path prefix.
    type: str
    default: ""
  persistent:
    description: Keep state in O(db).
    type: bool
    default: false
  db:
    description: State db file.
    type: str
    default: ""
  max_tasks:
    description: Tasks kept in memory; 0 keeps Flower's default.
    type: int
    default: 0
  purge_offline_workers:
    description: Seconds after which offline workers are forgotten; 0 keeps them.
    type: int
    default: 0
  log_level:
    description: Log level.
    type: str
    default: info
  extra_args:
    description: Extra arguments.
    type: list
    elements: str
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Show Flower's command line
  ansible.builtin.debug:
    msg: "{{ 'proj.celery:app' | celeryops.deploy.celery_flower_argv(url_prefix='flower') }}"
"""

RETURN = r"""
_value:
  description: The arguments.
  type: list
  elements: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_cmd import flower_argv, flower_health_url
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_flower_argv=flower_argv, celery_flower_health_url=flower_health_url)
