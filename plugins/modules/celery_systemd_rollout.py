#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_systemd_rollout
short_description: Restart or start Celery systemd units one at a time, each ready before the next
version_added: 0.3.0
description:
  - Moves systemd units (Celery worker instances, beat, Flower) to a new release or new settings one at a
    time. Each unit is C(Type=notify), so C(systemctl restart) returns only once the instance is ready
    (a worker consumes) or fails after its C(TimeoutStartSec); it must then stay up, with the same main
    PID, for O(settle) seconds before the next unit is touched.
  - A unit moves when its release symlink (O(instances[].link)) must point somewhere new
    (O(instances[].target)), or when O(instances[].restart) says its settings changed; a unit that is not
    active is started. Others are left alone.
  - On the first failure nothing else is touched. The failed unit is put back on its previous release
    (the symlink restored) with the backups of the files this run changed and no earlier unit started
    with (O(backups)), restarted and waited for; the module fails with a message naming the unit and
    the last journal lines, secrets masked.
  - On success the backups are removed and, with O(prune), old release directories that no
    instance link points to are deleted beyond the newest O(prune.keep).
author:
  - celeryops.deploy developers (@celeryops)
options:
  restart:
    description:
      - Shorthand for O(instances) that restarts each of these units, in this order, without moving a release
        (a rolling restart). Exactly one of O(restart) and O(instances) is given.
    type: list
    elements: str
  instances:
    description: The units, in the order they move.
    type: list
    elements: dict
    suboptions:
      unit:
        description: The unit name, for example C(shop-worker-io@1.service).
        type: str
        required: true
      link:
        description: The symlink the unit's C(ExecStart) runs through (its release).
        type: path
      target:
        description: Where O(instances[].link) must point (the release's virtualenv).
        type: path
      restart:
        description: Restart the unit even when its link does not move (its settings changed).
        type: bool
        default: false
      files:
        description: Files this unit starts with that this run changed (restored from O(backups) on failure).
        type: list
        elements: path
        default: []
      timeout:
        description: Seconds the restart (warm shutdown plus start) of this unit may take.
        type: int
  backups:
    description: Changed file -> its backup (as the template module's C(backup_file) returns).
    type: dict
    default: {}
  timeout:
    description: Default of O(instances[].timeout).
    type: int
    default: 600
  settle:
    description: Seconds a unit must stay up, with the same main PID, after it said it was ready.
    type: int
    default: 3
  journal_lines:
    description: Journal lines of the failed unit shown in the failure message.
    type: int
    default: 20
  secrets:
    description: Strings masked in the journal lines (the broker password, ...).
    type: list
    elements: str
    default: []
  prune:
    description: After success, delete release directories under O(prune.releases_dir) that no link in
      O(prune.instances_dir) points into, keeping the newest O(prune.keep).
    type: dict
    suboptions:
      releases_dir:
        description: Directory of the release directories (C(<key>/venv)).
        type: path
        required: true
      instances_dir:
        description: Directory of the instances' release links.
        type: path
        required: true
      keep:
        description: How many release directories to keep in any case (newest first).
        type: int
        default: 3
attributes:
  check_mode:
    support: full
    description: Reports which units would move or start; changes nothing.
  diff_mode:
    support: none
    description: It reports what it did, not file diffs.
"""

EXAMPLES = r"""
- name: Move the io workers to the new release, one at a time
  celeryops.deploy.celery_systemd_rollout:
    instances:
      - unit: shop-worker-io@1.service
        link: /opt/celery/shop/instances/worker-io@1
        target: /opt/celery/shop/releases/3f2a9c1d0b7e/venv
      - unit: shop-worker-io@2.service
        link: /opt/celery/shop/instances/worker-io@2
        target: /opt/celery/shop/releases/3f2a9c1d0b7e/venv
    prune:
      releases_dir: /opt/celery/shop/releases
      instances_dir: /opt/celery/shop/instances
      keep: 3
"""

RETURN = r"""
moved:
  description: Units restarted onto the new release or settings, ready.
  returned: always
  type: list
  elements: str
started:
  description: Units that were not running and were started, ready.
  returned: always
  type: list
  elements: str
unchanged:
  description: Units left alone.
  returned: always
  type: list
  elements: str
failed_unit:
  description: The unit that did not become ready.
  returned: failure
  type: str
put_back:
  description: What became of the failed unit.
  returned: failure
  type: str
journal:
  description: Its last journal lines, secrets masked.
  returned: failure
  type: list
  elements: str
pruned:
  description: Release directories deleted.
  returned: success
  type: list
  elements: str
"""

import os
import shutil

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_rollout import (
    RolloutFailed, System, prune, rollout)


def _release_dir(path, releases_dir):
    """The release directory (releases/<key>) a link target lies in, or None."""
    real = os.path.realpath(path)
    base = os.path.realpath(releases_dir) + os.sep
    if not real.startswith(base):
        return None
    return base + real[len(base):].split(os.sep, 1)[0]


def _prune(spec):
    releases_dir, instances_dir = spec['releases_dir'], spec['instances_dir']
    if not os.path.isdir(releases_dir):
        return []
    referenced = set()
    if os.path.isdir(instances_dir):
        for name in os.listdir(instances_dir):
            link = os.path.join(instances_dir, name)
            if os.path.islink(link):
                referenced.add(_release_dir(link, releases_dir))
    releases = []
    for name in os.listdir(releases_dir):
        path = os.path.join(os.path.realpath(releases_dir), name)
        if os.path.isdir(path) and not os.path.islink(path):
            marker = os.path.join(path, 'release.json')
            releases.append((path, os.path.getmtime(marker if os.path.exists(marker) else path)))
    doomed = prune(releases, referenced, spec['keep'])
    for path in doomed:
        shutil.rmtree(path)
    return doomed


def main():
    module = AnsibleModule(
        argument_spec=dict(
            restart=dict(type='list', elements='str'),
            instances=dict(type='list', elements='dict', options=dict(
                unit=dict(type='str', required=True),
                link=dict(type='path'),
                target=dict(type='path'),
                restart=dict(type='bool', default=False),
                files=dict(type='list', elements='path', default=[]),
                timeout=dict(type='int'),
            )),
            backups=dict(type='dict', default={}),
            timeout=dict(type='int', default=600),
            settle=dict(type='int', default=3),
            journal_lines=dict(type='int', default=20),
            secrets=dict(type='list', elements='str', default=[], no_log=True),
            prune=dict(type='dict', options=dict(
                releases_dir=dict(type='path', required=True),
                instances_dir=dict(type='path', required=True),
                keep=dict(type='int', default=3),
            )),
        ),
        required_one_of=[('restart', 'instances')],
        mutually_exclusive=[('restart', 'instances')],
        supports_check_mode=True,
    )
    params = module.params
    instances = params['instances'] or [dict(unit=unit, restart=True, files=[], link=None, target=None, timeout=None)
                                        for unit in params['restart']]

    def run(argv, timeout):
        # run_command has no timeout; systemctl itself is bounded by the
        # unit's TimeoutStartSec/TimeoutStopSec, `timeout` bounds it for sure.
        rc, out, err = module.run_command(['timeout', '--kill-after=10', str(int(timeout))] + argv)
        if rc == 124:
            err = (err or '') + ' (no answer within %ss)' % timeout
        return rc, out, err

    system = System(run)
    try:
        result = rollout(instances, system, backups=params['backups'], timeout=params['timeout'],
                         settle=params['settle'], journal_lines=params['journal_lines'], secrets=params['secrets'],
                         check_mode=module.check_mode)
    except RolloutFailed as failure:
        module.fail_json(msg=str(failure), **failure.result)
    result['pruned'] = []
    if params['prune'] and not module.check_mode:
        result['pruned'] = _prune(params['prune'])
        result['changed'] = result['changed'] or bool(result['pruned'])
    module.exit_json(**result)


if __name__ == '__main__':
    main()
