# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_beat_argv
short_description: The celery arguments that run beat in the foreground
version_added: 0.1.0
description:
  - Returns the arguments after the C(celery) executable, for systemd, Compose and Kubernetes alike.
options:
  _input:
    description: The C(-A) argument (app module).
    type: str
    required: true
  scheduler:
    description: Scheduler class; empty for Celery's PersistentScheduler.
    type: str
    default: ""
  schedule_file:
    description: Schedule file of the PersistentScheduler (ignored with another scheduler).
    type: str
    default: ""
  max_interval:
    description: Most seconds between schedule checks; 0 keeps Celery's default.
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
- name: Show beat's command line
  ansible.builtin.debug:
    msg: "{{ 'proj.celery:app' | celeryops.deploy.celery_beat_argv(schedule_file='/var/lib/celery/proj/celerybeat-schedule') }}"
"""

RETURN = r"""
_value:
  description: The arguments.
  type: list
  elements: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_cmd import beat_argv
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_beat_argv=beat_argv)
