# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_broker_endpoint
short_description: Type, host, port and database of a broker URL, without its password
version_added: 0.2.0
description:
  - For KEDA triggers. Takes the first of C(;)-joined failover URLs.
    C(amqp), C(amqps) and C(pyamqp) are C(rabbitmq); anything else is taken as Redis.
options:
  _input:
    description: The broker URL.
    type: str
    required: true
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Show where the queues are
  ansible.builtin.debug:
    msg: "{{ 'redis://:pw@redis.internal:6380/2' | celeryops.deploy.celery_broker_endpoint }}"
  # {type: redis, host: redis.internal, port: 6380, db: 2, tls: false}
"""

RETURN = r"""
_value:
  description: C(type), C(host), C(port), C(db) (Redis), C(tls).
  type: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_k8s import broker_endpoint
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_broker_endpoint=broker_endpoint)
