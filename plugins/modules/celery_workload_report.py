#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_workload_report
short_description: Read the workload the running Celery workers measured, per worker group
version_added: 0.3.0
description:
  - The launcher of every worker records each task's wall time and CPU time and each process's peak RSS
    (C(CELERYOPS_WORKLOAD_DIR), on with C(celery_worker_measure_workload)). This module reads those records
    from the workers of an app and reports per group the tasks, the mean and p95 duration, the CPU share and
    the memory a task adds, and the group's workload in the shape C(celery_worker_groups) and
    M(celeryops.deploy.celery_worker_plan) take (C(kind), C(avg_duration_s), C(cpu_time_s), C(task_memory_mb)).
  - On systemd hosts it reads O(directory); on a Compose host it reads the files inside each running worker
    container of the project O(app_name) (C(docker exec)).
  - Changes nothing.
author:
  - celeryops.deploy developers (@celeryops)
options:
  platform:
    description: Where the workers run.
    type: str
    choices: [systemd, compose]
    default: systemd
  app_name:
    description: The app (C(celery_app_name)); the Compose project name.
    type: str
    required: true
  directory:
    description:
      - systemd, the directory of the records, one subdirectory per instance named C(<group>@<n>); required.
      - compose, the directory inside the containers; by default the one the roles give the workers.
    type: path
attributes:
  check_mode:
    support: full
    description: It only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Read the measured workload
  celeryops.deploy.celery_workload_report:
    app_name: demo
    directory: /run/celery/demo/workload
  register: workload
"""

RETURN = r"""
groups:
  description: One report per group that ran tasks since its workers started.
  returned: success
  type: list
  elements: dict
  sample:
    - name: io
      tasks: 1200
      processes: 2
      mean_s: 0.0521
      p95_s: 0.0596
      cpu_share: 0.041
      task_memory_mb: 3
      peak_rss_mb: 61
      workload: {kind: mixed, avg_duration_s: 0.0521, cpu_time_s: 0.00213, task_memory_mb: 3}
workload:
  description: Each group's name and workload keys, ready to merge into C(celery_worker_groups).
  returned: success
  type: list
  elements: dict
  sample: [{name: io, kind: mixed, avg_duration_s: 0.0521, cpu_time_s: 0.00213, task_memory_mb: 3}]
table:
  description: The reports as lines of a plain text table.
  returned: success
  type: list
  elements: str
"""

import glob
import json
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.celeryops.deploy.plugins.module_utils._celery_compose import WORKLOAD_DIR
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_workload import report, table

ARGUMENT_SPEC = dict(
    platform=dict(type='str', choices=['systemd', 'compose'], default='systemd'),
    app_name=dict(type='str', required=True),
    directory=dict(type='path'),
)

# Prints the records of one container as a JSON list (every image with the
# launcher has Python).
READ_RECORDS = ('import glob, json, sys\n'
                'out = []\n'
                'for path in glob.glob(sys.argv[1] + "/*.json"):\n'
                '    try:\n'
                '        out.append(json.load(open(path)))\n'
                '    except (OSError, ValueError):\n'
                '        pass\n'
                'print(json.dumps(out))\n')


def _load(path):
    try:
        with open(path) as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None  # being replaced right now, or not ours


def systemd_records(directory):
    """{group: [records]} from <directory>/<group>@<n>/*.json."""
    out = {}
    for instance in sorted(glob.glob(os.path.join(directory, '*@*'))):
        group = os.path.basename(instance).rsplit('@', 1)[0]
        records = [record for record in (_load(path) for path in glob.glob(os.path.join(instance, '*.json')))
                   if record is not None]
        out.setdefault(group, []).extend(records)
    return out


def compose_records(module, app_name, directory):
    """{group: [records]} from the running worker containers of the project."""
    docker = module.get_bin_path('docker', required=True)
    rc, out, err = module.run_command([docker, 'ps', '-q', '--filter', 'label=com.docker.compose.project=%s' % app_name,
                                       '--filter', 'label=io.celeryops.component=worker',
                                       '--format', '{{.ID}} {{.Label "io.celeryops.group"}}'])
    if rc != 0:
        module.fail_json(msg='docker ps failed: %s' % err.strip())
    records = {}
    for line in out.splitlines():
        container, _sep, group = line.strip().partition(' ')
        if not container or not group:
            continue
        service = 'worker-%s' % group
        rc, text, err = module.run_command([docker, 'exec', container, 'python3', '-c', READ_RECORDS, directory])
        if rc != 0:
            module.warn('could not read the records of container %s (%s): %s' % (container, service, err.strip()))
            continue
        try:
            records.setdefault(group, []).extend(json.loads(text))
        except ValueError:
            module.warn('container %s (%s) printed no records' % (container, service))
    return records


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[('platform', 'systemd', ('directory',))])
    params = module.params
    if params['platform'] == 'compose':
        records = compose_records(module, params['app_name'], params['directory'] or WORKLOAD_DIR)
    else:
        records = systemd_records(params['directory'])
    groups = report(records)
    workload = [dict(item['workload'], name=item['name']) for item in groups]
    module.exit_json(changed=False, groups=groups, table=table(groups), workload=workload)


if __name__ == '__main__':
    main()
