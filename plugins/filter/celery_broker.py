# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that read a broker URL (docs beside this file, one .yml per filter)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
    broker_auth, broker_endpoint, broker_settings, compose_broker, redis_exporter_argv, redis_exporter_passwords)
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Broker filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_broker_auth=broker_auth, celery_broker_endpoint=broker_endpoint,
                          celery_broker_settings=broker_settings, celery_compose_broker=compose_broker,
                          celery_redis_exporter_argv=redis_exporter_argv,
                          celery_redis_exporter_passwords=redis_exporter_passwords)
