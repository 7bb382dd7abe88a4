# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_group_errors
short_description: List what is wrong with a list of Celery worker groups
version_added: 0.1.0
description:
  - Checks C(celery_worker_groups) (names, queues, pool, positive numbers, prefork-only options, time limits, autoscale, extra arguments).
  - Returns one message per problem, each naming the variable, or an empty list when the groups are valid.
options:
  _input:
    description: The worker groups.
    type: list
    elements: dict
    required: true
  settings:
    description:
      - Celery settings for every group (C(celery_worker_settings) with the acks variables); checked too, and
        merged with each group's own C(settings).
    type: dict
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Check the worker groups
  ansible.builtin.assert:
    that: celery_worker_groups | celeryops.deploy.celery_worker_group_errors | length == 0
    fail_msg: "{{ celery_worker_groups | celeryops.deploy.celery_worker_group_errors | join('; ') }}"
"""

RETURN = r"""
_value:
  description: Messages, one per problem; empty when the groups are valid.
  type: list
  elements: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import group_errors
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_group_errors=group_errors)
