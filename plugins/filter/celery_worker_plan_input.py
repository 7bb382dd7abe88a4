# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_plan_input
short_description: The celery_worker_plan groups for worker groups that describe their workload
version_added: 0.1.0
description:
  - Picks the worker groups that set C(kind) and turns each into a M(celeryops.deploy.celery_worker_plan) group
    (workload keys, the user's fixed C(pool), C(concurrency), C(instances), and the time limits).
options:
  _input:
    description: The worker groups (C(celery_worker_groups)).
    type: list
    elements: dict
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Plan the groups
  celeryops.deploy.celery_worker_plan:
    groups: "{{ celery_worker_groups | celeryops.deploy.celery_worker_plan_input }}"
"""

RETURN = r"""
_value:
  description: Plan groups.
  type: list
  elements: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import plan_input
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_plan_input=plan_input)
