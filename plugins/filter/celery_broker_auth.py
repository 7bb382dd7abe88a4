# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_broker_auth
short_description: The secret KEDA needs for a broker URL
version_added: 0.2.0
description:
  - For the KEDA TriggerAuthentication. Takes the first of C(;)-joined failover URLs.
    Returns the Redis password, or the whole AMQP URL for RabbitMQ. A secret.
options:
  _input:
    description: The broker URL.
    type: str
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Put the broker password into a Secret's data
  ansible.builtin.set_fact:
    keda_auth: "{{ 'redis://:pw@redis.internal:6380/2' | celeryops.deploy.celery_broker_auth }}"
  no_log: true
"""

RETURN = r"""
_value:
  description: The password or URL.
  type: str
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_k8s import broker_auth
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_broker_auth=broker_auth)
