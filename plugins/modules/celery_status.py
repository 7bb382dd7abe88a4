#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_status
short_description: Read the state of an app's Celery workers, beat, Flower and queues on one host
version_added: 0.3.0
description:
  - Reads what the roles deployed on this host and how it runs, without changing anything. One row per worker
    instance (systemd) or container (Compose) with its unit or container state, readiness (a fresh heartbeat
    that says it consumes, the check the roles gate on), restart count, uptime, release (the virtualenv key
    its link points at, or the image), heartbeat age, node name, whether the node answered a ping, its active
    and reserved task counts, pool and concurrency; beat (its state, the age of its last tick, whether it
    holds RedBeat's lock or waits as a standby); Flower (/healthcheck and the login); the length of each queue
    the workers consume.
  - The workers of the app are pinged once per host (one broadcast, run with a worker's own interpreter, user
    and environment), not once per instance.
  - Unhealthy rows carry their last log lines (journal or container log), secrets masked.
  - The module does not fail on an unhealthy deployment; it reports C(healthy=false) and the problems (the
    C(celeryops.deploy.status) playbook fails on them).
author:
  - celeryops.deploy developers (@celeryops)
options:
  platform:
    description: Where the app runs on this host.
    type: str
    choices: [systemd, compose]
    default: systemd
  app:
    description: The app (C(celery_app_name)).
    type: str
    required: true
  app_module:
    description: The app's C(-A) argument (C(celery_app_module)), for the broadcast.
    type: str
    required: true
  base_dir:
    description: systemd, the app's base directory (C(celery_base_dir)); its C(instances) directory lists what runs here.
    type: path
  run_dir:
    description: systemd, where the heartbeat files are (C(celery_run_dir)).
    type: path
  project_name:
    description: Compose, the project name (C(celery_compose_project_name)).
    type: str
  project_dir:
    description: Compose, the project directory (C(celery_compose_project_dir)).
    type: path
  project_files:
    description: Compose, the project files in O(project_dir), in order.
    type: list
    elements: str
    default: []
  flower_url:
    description: Flower's /healthcheck URL as a client on this host reaches it; empty when no Flower runs here.
    type: str
    default: ""
  flower_credentials:
    description: One C(user:password) of Flower's login, to check that the login works; empty when it is off.
    type: str
    default: ""
  queue_max:
    description: Messages a queue may hold before its row is unhealthy.
    type: int
    default: 1000
  heartbeat_max_age:
    description: Seconds after which a heartbeat is stale (the roles' readiness check uses 10).
    type: float
    default: 10.0
  timeout:
    description: Seconds each broadcast (ping, active, reserved, stats) and the broker connection wait.
    type: float
    default: 3.0
  log_lines:
    description: Log lines kept for each unhealthy row.
    type: int
    default: 10
  host:
    description: The host's name in the table's header; by default the host's own name.
    type: str
  expect:
    description:
      - What the inventory puts on this host (its groups C(celery_workers), C(celery_beat), C(celery_flower)); one
        of these with nothing deployed is an unhealthy row.
    type: list
    elements: str
    choices: [worker, beat, flower]
    default: []
  secrets:
    description: Values masked wherever they appear in the output (URL passwords are masked anyway).
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description: It only reads.
  diff_mode:
    support: none
    description: Nothing changes.
"""

EXAMPLES = r"""
- name: Read the app's state on this host
  celeryops.deploy.celery_status:
    app: shop
    app_module: shop.celery:app
    base_dir: /opt/celery/shop
    run_dir: /run/celery/shop
  register: shop_status
"""

RETURN = r"""
healthy:
  description: Every row below is healthy.
  returned: success
  type: bool
rows:
  description: One per worker instance or container, beat, Flower (and the Compose broker), in name order.
  returned: success
  type: list
  elements: dict
  sample:
    - {kind: worker, name: worker-io@1, state: active/running, running: true, ready: true, restarts: 0,
       uptime: 3600.0, release: 04e123316887, heartbeat_age: 0.4, heartbeat_state: consuming,
       node: io1@web1, ping: true, active: 2, reserved: 0, pool: threads, concurrency: 25,
       healthy: true, reasons: []}
queues:
  description: One per queue the workers here consume.
  returned: success
  type: list
  elements: dict
  sample: [{kind: queue, name: io, groups: [io], messages: 0, ready_workers: 1, healthy: true, reasons: []}]
table:
  description: The rows as lines a person reads; unhealthy rows marked C(!!), with their reasons and log lines.
  returned: success
  type: list
  elements: str
problems:
  description: One line per unhealthy row.
  returned: success
  type: list
  elements: str
"""

import socket
import time

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import open_url

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_status as status
from ansible_collections.celeryops.deploy.plugins.module_utils._celery_status_host import ComposeReader, SystemdReader

ARGUMENT_SPEC = dict(
    platform=dict(type='str', choices=['systemd', 'compose'], default='systemd'),
    app=dict(type='str', required=True),
    app_module=dict(type='str', required=True),
    base_dir=dict(type='path'),
    run_dir=dict(type='path'),
    project_name=dict(type='str'),
    project_dir=dict(type='path'),
    project_files=dict(type='list', elements='str', default=[]),
    flower_url=dict(type='str', default=''),
    flower_credentials=dict(type='str', default='', no_log=True),
    queue_max=dict(type='int', default=1000),
    heartbeat_max_age=dict(type='float', default=10.0),
    timeout=dict(type='float', default=3.0),
    log_lines=dict(type='int', default=10),
    host=dict(type='str'),
    expect=dict(type='list', elements='str', choices=['worker', 'beat', 'flower'], default=[]),
    secrets=dict(type='list', elements='str', default=[], no_log=True),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True,
                           required_if=[('platform', 'systemd', ('base_dir', 'run_dir')),
                                        ('platform', 'compose', ('project_name', 'project_dir'))])
    params = module.params

    def run(argv, timeout):
        # `timeout` bounds each command: a wedged broker or engine must not hang the status.
        return module.run_command(['timeout', '--kill-after=5', str(int(timeout))] + list(argv))

    def http(url, credentials):
        user, _sep, password = (credentials or '').partition(':')
        try:
            response = open_url(url, timeout=params['timeout'], url_username=user or None,
                                url_password=password or None, force_basic_auth=bool(credentials),
                                validate_certs=False, follow_redirects='safe')
            return {'status': response.getcode()}
        except Exception as exc:  # HTTPError carries the status; anything else is the error
            code = getattr(exc, 'code', None)
            return {'status': code} if code else {'error': status.scrub(str(exc), params['secrets'])}

    def read_file(path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return None

    reader = (ComposeReader if params['platform'] == 'compose' else SystemdReader)(
        params, run, http, read_file, time.time)
    report = reader.read()
    host = params['host'] or socket.gethostname()
    secrets = list(params['secrets']) + [params['flower_credentials'].partition(':')[2]]
    module.exit_json(changed=False, healthy=report['healthy'], rows=report['rows'], queues=report['queues'],
                     table=status.table(host, params['app'], report['rows'], report['queues'], secrets),
                     problems=status.problems(host, report['rows'], report['queues']))


if __name__ == '__main__':
    main()
