# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters that render the Compose and Kubernetes objects.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_compose import fragment
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s import checksum, manifests
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s_pod import settings_errors
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_k8s_rollout import rollout_status
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Manifest filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_compose_fragment=fragment, _celery_k8s_manifests=manifests,
                          _celery_k8s_checksum=checksum, _celery_k8s_pod_errors=settings_errors,
                          _celery_k8s_rollout_status=rollout_status)
