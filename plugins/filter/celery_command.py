# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Filters for the beat and Flower command lines and beat's scheduler.

The public ones are documented beside this file, one .yml each; the roles' own steps
are named _* and undocumented on purpose (docs/naming.md)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_beat import resolve_beat
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_cmd import (
    beat_argv,
    flower_argv,
    flower_health_url,
)
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Command line filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_beat_argv=beat_argv, _celery_beat_resolve=resolve_beat, _celery_flower_argv=flower_argv,
                          celery_flower_health_url=flower_health_url)
