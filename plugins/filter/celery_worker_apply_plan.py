# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_apply_plan
short_description: Fill in what worker groups leave out from a celery_worker_plan result
version_added: 0.1.0
description:
  - For each group with a plan (matched by name), takes C(pool), C(concurrency), C(instances), C(prefetch_multiplier),
    C(max_tasks_per_child), C(max_memory_per_child) (prefork only) and C(stop_timeout) from the plan where the group
    does not set them. What a group sets wins. Adds C(plan_summary) and C(plan_reasons).
options:
  _input:
    description: The worker groups.
    type: list
    elements: dict
    required: true
  planned:
    description: The C(groups) of a M(celeryops.deploy.celery_worker_plan) result.
    type: list
    elements: dict
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Use the plan
  ansible.builtin.set_fact:
    groups_planned: "{{ celery_worker_groups | celeryops.deploy.celery_worker_apply_plan(plan.groups) }}"
"""

RETURN = r"""
_value:
  description: The groups with the planned values filled in.
  type: list
  elements: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import apply_plan
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_apply_plan=apply_plan)
