# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: celery_k8s_manifests
short_description: The Kubernetes objects of one celeryops.deploy role
version_added: 0.2.0
description:
  - Returns a list of Kubernetes objects (dicts) for the shared config (ConfigMaps, optional Namespace), a Secret,
    the worker groups (Deployment, PodDisruptionBudget, optional HPA or KEDA ScaledObject), beat (one replica,
    Recreate) or Flower (Deployment and ClusterIP Service).
  - Worker probes run C(celeryops-probe.py) from a ConfigMap; liveness passes while the broker is unreachable.
options:
  _input:
    description: >-
      Settings: C(app_name), C(app_module), C(image), C(image_pull_policy), C(namespace), C(config_name),
      C(probe_config_name), C(secret_name), C(uid), C(gid), C(python), C(state_dir), C(probes), C(autoscaling),
      C(hpa_cpu_percent), C(keda_broker), C(keda_secret_key), C(service_account), C(image_pull_secrets),
      C(node_selector), C(tolerations).
    type: dict
    required: true
  component:
    description: Which objects.
    type: str
    choices: [config, secret, worker, beat, flower]
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
    description: Beat's termination grace period, seconds.
    type: int
  url_prefix:
    description: Flower's URL prefix (probe paths).
    type: str
  auth_secret:
    description: Name of the Secret with C(FLOWER_BASIC_AUTH).
    type: str
  config:
    description: Non-secret environment for the ConfigMap (O(component=config)).
    type: dict
  probe_source:
    description: The probe script's text (O(component=config)).
    type: str
  launcher_source:
    description: The text of the launcher C(celeryops-celery.py), for workers with Celery settings (O(component=config)).
    type: str
  namespace:
    description: Also return the Namespace (O(component=config)).
    type: bool
  name:
    description: Secret name (O(component=secret)).
    type: str
  data:
    description: Secret data (O(component=secret)).
    type: dict
  owner:
    description: Component label of the Secret.
    type: str
author:
  - celeryops.deploy developers
"""

EXAMPLES = r"""
- name: Render the beat Deployment
  ansible.builtin.copy:
    dest: /srv/gitops/proj/30-beat.yaml
    content: "{{ settings | celeryops.deploy.celery_k8s_manifests('beat', argv=argv) | to_nice_yaml }}"
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The Kubernetes objects.
  type: list
  elements: dict
"""

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_k8s import manifests
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


class FilterModule(object):
    """Filters of celeryops.deploy."""

    def filters(self):
        return filter_map(celery_k8s_manifests=manifests)
