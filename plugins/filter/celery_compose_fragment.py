# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_compose_fragment
short_description: The Compose file of one celeryops.deploy role
version_added: 0.2.0
description:
  - Returns the body of one Compose file (services, secrets, configs, volumes) for the worker groups,
    beat, Flower or the optional Redis broker. The roles write one such file each into the project
    directory and run Compose with all of them.
  - Secrets never appear in it; they are Compose secrets (files) that the entry point exports.
  - Every C($) is escaped as C($$) against Compose interpolation.
options:
  _input:
    description: >-
      Settings: C(app_name), C(app_module), C(image), C(project_dir), C(uid), C(gid), C(python),
      C(restart), C(log_max_size), C(log_max_file), C(healthcheck) (interval, timeout, retries,
      start_period in seconds), C(revision), C(broker_enabled), C(broker_image), C(broker_user), C(state_dir).
    type: dict
    required: true
  component:
    description: Which file.
    type: str
    choices: [worker, beat, flower, broker]
    required: true
  groups:
    description: Normalized worker groups (O(component=worker)).
    type: list
    elements: dict
  argv:
    description: The celery arguments of beat or Flower.
    type: list
    elements: str
  stop_timeout:
    description: Beat's stop grace period, seconds.
    type: int
  address:
    description: Host address Flower is published on.
    type: str
  port:
    description: Host port Flower is published on.
    type: int
  url_prefix:
    description: Flower's URL prefix (for its health check path).
    type: str
  persistent:
    description: Whether Flower keeps its state on a volume.
    type: bool
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Write the beat service
  ansible.builtin.copy:
    dest: /opt/celery/proj/compose.beat.yml
    content: "{{ settings | celeryops.deploy.celery_compose_fragment('beat', argv=argv) | to_nice_yaml }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The Compose file body.
  type: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_compose import fragment
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_compose_fragment=fragment)
