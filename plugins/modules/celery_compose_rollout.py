#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_compose_rollout
short_description: Replace a Compose project's outdated Celery containers one at a time, each ready first
version_added: 0.3.0
description:
  - Run before C(docker compose up) on a project whose files changed. Every service with containers whose
    Compose config hash differs from the files is brought up to date here, gated on readiness (the
    service's own health check, run with C(docker exec) until it passes, without waiting for Docker's
    health-check interval).
  - Worker services (label C(io.celeryops.component=worker)) surge, one new container beside the old ones,
    ready, then one old container stopped with its grace period (warm shutdown) and removed, in turn; the
    service never has fewer ready containers than before. Other services (beat, Flower, the broker) are
    recreated and must become ready.
  - On the first failure the new container's last log lines are kept (secrets masked), it is removed, the
    project files this run changed are put back from O(backups) (a recreated service is recreated again
    from them), and the module fails naming the service. Services after it are not touched.
  - New services and scaling are left to C(docker compose up) (run it after this module).
  - With O(restart_workers), it instead restarts every worker container in turn (a rolling restart), each
    with its grace period and ready again before the next; the first that is not fails the module.
author:
  - celeryops.deploy developers (@celeryops)
options:
  project_src:
    description: The project directory.
    type: path
    required: true
  project_name:
    description: The Compose project name.
    type: str
    required: true
  files:
    description: The project's Compose files (names in O(project_src)).
    type: list
    elements: str
    required: true
  restart_workers:
    description: Restart every worker container in turn instead (a rolling restart), each ready before the next.
    type: bool
    default: false
  backups:
    description: Changed project file -> its backup (the template module's C(backup_file)).
    type: dict
    default: {}
  timeout:
    description: Seconds a new container may take to become ready.
    type: int
    default: 300
  settle:
    description:
      - Seconds a container must stay running, not restarted by its policy, after its health check first passed;
        then the check must pass again. A container that is healthy once and then crashes is not ready.
    type: int
    default: 3
  log_lines:
    description: Log lines of the failed container in the failure message.
    type: int
    default: 20
  secrets:
    description: Strings masked in the log lines.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: Reports which services would be replaced or recreated.
  diff_mode:
    support: none
    description: It reports what it did, not file diffs.
"""

EXAMPLES = r"""
- name: Replace the outdated containers one at a time
  celeryops.deploy.celery_compose_rollout:
    project_src: /opt/celery/shop
    project_name: shop
    files: [compose.worker.yml, compose.beat.yml]
"""

RETURN = r"""
replaced:
  description: Worker service -> how many containers were replaced.
  returned: always
  type: dict
restarted:
  description: With O(restart_workers), the containers restarted, in order.
  returned: when restart_workers
  type: list
  elements: str
recreated:
  description: Other services recreated.
  returned: always
  type: list
  elements: str
failed_service:
  description: The service whose new container did not become ready.
  returned: failure
  type: str
restored:
  description: The project files put back.
  returned: failure
  type: list
  elements: str
logs:
  description: The failed container's last log lines, secrets masked.
  returned: failure
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_compose_rollout import (
    Docker, rollout, rolling_restart)
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_rollout import RolloutFailed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            project_src=dict(type='path', required=True),
            project_name=dict(type='str', required=True),
            files=dict(type='list', elements='str', required=True),
            restart_workers=dict(type='bool', default=False),
            backups=dict(type='dict', default={}),
            timeout=dict(type='int', default=300),
            settle=dict(type='int', default=3),
            log_lines=dict(type='int', default=20),
            secrets=dict(type='list', elements='str', default=[], no_log=True),
        ),
        supports_check_mode=True,
    )
    params = module.params

    def run(argv, timeout):
        rc, out, err = module.run_command(['timeout', '--kill-after=10', str(int(timeout))] + argv,
                                          cwd=params['project_src'])
        return rc, out, err

    def restore(backups):
        restored = []
        for path, backup in sorted(backups.items()):
            if os.path.exists(backup):
                shutil.move(backup, path)
                restored.append(path)
        return restored

    docker = Docker(run, params['project_src'], params['project_name'], params['files'])
    try:
        if params['restart_workers']:
            module.exit_json(**rolling_restart(docker, timeout=params['timeout'], log_lines=params['log_lines'],
                                               secrets=params['secrets'], check_mode=module.check_mode,
                                               settle=params['settle']))
        result = rollout(docker, restore, backups=params['backups'], timeout=params['timeout'],
                         log_lines=params['log_lines'], secrets=params['secrets'], check_mode=module.check_mode,
                         settle=params['settle'])
    except RolloutFailed as failure:
        module.fail_json(msg=str(failure), **failure.result)
    except (RuntimeError, ValueError) as error:
        module.fail_json(msg='celery_compose_rollout: %s' % error)
    if not module.check_mode:
        for backup in params['backups'].values():
            if os.path.exists(backup):
                os.unlink(backup)
    module.exit_json(**result)


if __name__ == '__main__':
    main()
