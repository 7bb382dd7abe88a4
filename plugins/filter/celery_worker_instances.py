# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_instances
short_description: The systemd instance unit names of Celery worker groups
version_added: 0.1.0
description:
  - Returns C(<app>-worker-<group>@<n>.service) for every instance of every group, in group order.
options:
  _input:
    description: The worker groups (C(name), optional C(instances), default 1).
    type: list
    elements: dict
    required: true
  app_name:
    description: The app name (C(celery_app_name)).
    type: str
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Show the unit names
  ansible.builtin.debug:
    msg: "{{ [{'name': 'io', 'instances': 2}] | celeryops.deploy.celery_worker_instances('shop') }}"
  # shop-worker-io@1.service, shop-worker-io@2.service
"""

RETURN = r"""
_value:
  description: Unit names.
  type: list
  elements: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import instance_units
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_instances=instance_units)
