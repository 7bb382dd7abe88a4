# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_normalize
short_description: Fill in the defaults of Celery worker groups and build their command lines
version_added: 0.1.0
description:
  - Returns the groups with C(pool), C(instances), C(environment), C(extra_args), C(stop_timeout), C(start_timeout) and C(watchdog) filled in,
    and C(argv), the C(celery) arguments that run one worker of the group.
  - Validate the groups with P(celeryops.deploy.celery_worker_group_errors#filter) first.
options:
  _input:
    description: The worker groups.
    type: list
    elements: dict
    required: true
  app_module:
    description: The C(-A) argument.
    type: str
    required: true
  log_level:
    description: Worker log level.
    type: str
    default: info
  default_stop_timeout:
    description: Stop timeout of groups that set neither C(stop_timeout) nor C(time_limit).
    type: int
    default: 300
  stop_margin:
    description: Seconds added to C(time_limit) to make the stop timeout.
    type: int
    default: 30
  extra_args:
    description: Arguments added to every group, before the group's own.
    type: list
    elements: str
  start_timeout:
    description: systemd C(TimeoutStartSec) of groups that set no C(start_timeout) (seconds until ready).
    type: int
    default: 90
  watchdog:
    description:
      - systemd C(WatchdogSec) of prefork and threads groups that set no C(watchdog); solo, gevent and
        eventlet groups get C(time_limit) + O(stop_margin), or none without a time limit. 0 turns it off.
    type: int
    default: 60
  settings:
    description:
      - Celery settings for every group; merged with each group's own C(settings) into C(settings), and passed
        (as JSON in C(CELERYOPS_CELERY_SETTINGS)) to the launcher that starts the group's workers.
    type: dict
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Work out the worker groups
  ansible.builtin.set_fact:
    groups_full: "{{ celery_worker_groups | celeryops.deploy.celery_worker_normalize(app_module='proj.celery:app') }}"
"""

RETURN = r"""
_value:
  description: The groups with defaults filled in and C(argv) and C(stop_timeout) added.
  type: list
  elements: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import normalize_groups
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_normalize=normalize_groups)
