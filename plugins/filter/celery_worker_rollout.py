# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_worker_rollout
short_description: The instances and backups of Celery worker groups, as celery_systemd_rollout takes them
version_added: 0.3.0
description:
  - Returns C(instances), one entry per instance of every normalized group, in group order, with its unit,
    its release symlink (C(<base_dir>/instances/worker-<group>@<n>)), the release venv it must run, whether
    its settings changed (a file of its group, or the shared env file, changed), the changed files it starts
    with and the time its restart may take (stop + start timeouts + margin); and C(backups), changed file ->
    its backup.
options:
  _input:
    description: Normalized worker groups (P(celeryops.deploy.celery_worker_normalize#filter)).
    type: list
    elements: dict
    required: true
  app_name:
    description: The app name.
    type: str
    required: true
  base_dir:
    description: The app's base directory (C(celery_base_dir)).
    type: str
    required: true
  install:
    description: The shared install's summary (C(venv), C(restart_all), C(files), C(backups)).
    type: dict
    required: true
  file_results:
    description: Results of the template tasks that wrote the groups' unit and env files (looped over the groups).
    type: list
    elements: dict
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Move the workers one at a time
  celeryops.deploy.celery_systemd_rollout:
    instances: "{{ (groups_full | celeryops.deploy.celery_worker_rollout('shop', '/opt/celery/shop', install)).instances }}"
"""

RETURN = r"""
_value:
  description: C(instances) and C(backups).
  type: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_worker import rollout, unit_rollout
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def celery_worker_rollout(groups, app_name, base_dir, install, file_results=None):
    return rollout(groups, app_name, base_dir, install, file_results or [])


def celery_unit_rollout(unit, link, install, file_results=None, timeout=600):
    """The same for one unit (beat, Flower): restarts when its files or the shared env changed."""
    return unit_rollout(unit, link, install, file_results or [], timeout)


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_worker_rollout=celery_worker_rollout, celery_unit_rollout=celery_unit_rollout)
