# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for worker groups and rollouts: the one resolving step and the
celery_systemd_rollout inputs.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import (
    instance_units,
    resolve_groups,
    rollout,
    unit_rollout,
)
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def celery_worker_rollout(groups, app_name, base_dir, install, file_results=None):
    return rollout(groups, app_name, base_dir, install, file_results or [])


def celery_unit_rollout(unit, link, install, file_results=None, timeout=600):
    """The same for one unit (beat, Flower): restarts when its files or the shared env changed."""
    return unit_rollout(unit, link, install, file_results or [], timeout)


class FilterModule(object):
    """Worker group filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_worker_resolve=resolve_groups, _celery_worker_instances=instance_units,
                          _celery_worker_rollout=celery_worker_rollout, _celery_unit_rollout=celery_unit_rollout)
