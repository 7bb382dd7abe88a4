# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that read a broker URL.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_broker import (
    broker_auth, broker_endpoint, broker_settings, compose_broker, redis_exporter_argv, redis_exporter_passwords)
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Broker filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_broker_auth=broker_auth, celery_broker_endpoint=broker_endpoint,
                          celery_broker_settings=broker_settings, _celery_compose_broker=compose_broker,
                          _celery_redis_exporter_argv=redis_exporter_argv,
                          _celery_redis_exporter_passwords=redis_exporter_passwords)
