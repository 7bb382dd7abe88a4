# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for monitoring.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_alerts import files_for
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def _files(options, component):
    return files_for(component, options)


class FilterModule(object):
    """Monitoring filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_prometheus_files=_files)
