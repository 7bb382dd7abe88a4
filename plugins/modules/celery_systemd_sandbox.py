#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_systemd_sandbox
short_description: Find the sandbox directives this host's systemd cannot honour, before any unit is written
version_added: 0.3.0
description:
  - Starts a transient unit (C(systemd-run --wait /bin/true), as O(user)) with every sandbox directive the
    Celery units would carry. When it runs, the host honours them all. When it fails, each directive is tried
    alone, then left out one at a time (likely culprits first) until the rest runs, to name the ones the host
    refuses, for example C(PrivateUsers=) where the kernel or the container gives no user namespaces (the
    unit would fail with C(217/USER) and crash-loop).
  - Returns the sandbox without the refused directives and warns, naming each and
    C(celery_systemd_sandbox_overrides); with O(strict) it fails instead.
  - Leaves nothing behind but its answer (transient units are collected), so it also runs in check mode.
  - With O(cache), the answer is kept in that file with what it depends on (the directives, the user, the
    systemd version, the kernel, this boot and when PID 1 started, so a container restarted with another
    seccomp profile asks again); a later run that finds the same key probes nothing. Check mode reads the
    cache but never writes it.
author:
  - celeryops.deploy developers (@celeryops)
options:
  directives:
    description: Directive name -> value, as the units get them (C(true)/C(false) become C(yes)/C(no); C(null) leaves one out).
    type: dict
    required: true
  user:
    description:
      - The user the probe's transient unit runs as. Some refusals only happen for a non-root C(User=) (the
        units' case), for example C(PrivateUsers=) with C(ProtectProc=) in a container.
    type: str
    default: nobody
  strict:
    description: Fail when a directive is refused, instead of leaving it out with a warning.
    type: bool
    default: false
  timeout:
    description: Seconds one probe may take.
    type: int
    default: 60
  cache:
    description: File that keeps the answer for later runs (empty - probe every time).
    type: path
    default: ""
attributes:
  check_mode:
    support: full
    description: The probe's transient units leave nothing behind; it runs in check mode too.
  diff_mode:
    support: none
    description: It reports what it did, not file diffs.
"""

EXAMPLES = r"""
- name: Find what this host's systemd refuses
  celeryops.deploy.celery_systemd_sandbox:
    directives: {PrivateUsers: true, ProtectSystem: strict}
  register: sandbox
"""

RETURN = r"""
sandbox:
  description: The directives without the refused ones.
  returned: success
  type: dict
refused:
  description: Names of the refused directives.
  returned: always
  type: list
  elements: str
cached:
  description: Whether the answer came from O(cache) (no probe ran).
  returned: success
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.celeryops.deploy.plugins.module_utils._systemd_unit import (
    cached_refusals, probe_key, refused_directives, save_refusals)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directives=dict(type='dict', required=True),
            user=dict(type='str', default='nobody'),
            strict=dict(type='bool', default=False),
            timeout=dict(type='int', default=60),
            cache=dict(type='path', default=''),
        ),
        supports_check_mode=True,
    )
    directives = dict((name, value) for name, value in module.params['directives'].items() if value is not None)
    if not module.check_mode and not os.path.isdir('/run/systemd/system'):
        module.fail_json(msg='celery_platform is systemd but systemd is not running as init on this host '
                             '(/run/systemd/system is missing): the units could not run.', refused=[])
    systemd_run = module.get_bin_path('systemd-run', required=True)

    def run(properties):
        argv = ['timeout', str(module.params['timeout']), systemd_run, '--wait', '--quiet', '--collect',
                '--service-type=exec', '-p', 'User=%s' % module.params['user']]
        for prop in properties:
            argv.extend(['-p', prop])
        rc, _out, err = module.run_command(argv + ['/bin/true'])
        return rc, err

    def read(path):
        try:
            with open(path) as handle:
                return handle.read()
        except (IOError, OSError):
            return ''

    cache = module.params['cache']
    key = cached = None
    try:
        if cache:
            _rc, version, _err = module.run_command([module.get_bin_path('systemctl', required=True), '--version'])
            init_started = (read('/proc/1/stat').rsplit(')', 1)[-1].split() or [''] * 20)[19:20]
            key = probe_key(directives, module.params['user'], version.splitlines()[0] if version else '',
                            os.uname()[2], read('/proc/sys/kernel/random/boot_id'), ''.join(init_started))
            cached = cached_refusals(cache, key)
        refused = cached if cached is not None else refused_directives(directives, run)
    except (TypeError, ValueError) as error:
        module.fail_json(msg='celery_systemd_sandbox / celery_systemd_sandbox_overrides: %s' % error, refused=[])
    if cache and cached is None and not module.check_mode:
        save_refusals(cache, key, refused)
    if refused:
        message = ('this host\'s systemd cannot start a unit with %s (tried with a transient unit; the units '
                   'would crash-loop): ' % ', '.join('%s=' % name for name in refused))
        if module.params['strict']:
            module.fail_json(msg=message + 'nothing was changed. Relax it with celery_systemd_sandbox_overrides '
                             '(e.g. {%s: null}) or set celery_systemd_sandbox_strict: false to leave it out '
                             'with a warning.' % refused[0], refused=refused)
        module.warn(message + 'left out on this host. Set celery_systemd_sandbox_overrides: {%s: null} to say '
                    'so explicitly, or celery_systemd_sandbox_strict: true to fail instead.' % refused[0])
    sandbox = dict((name, value) for name, value in directives.items() if name not in refused)
    module.exit_json(changed=False, sandbox=sandbox, refused=refused, cached=cached is not None)


if __name__ == '__main__':
    main()
