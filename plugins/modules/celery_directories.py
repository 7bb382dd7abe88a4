#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: celery_directories
short_description: Make several directories, each with its owner, group and mode, in one task
version_added: 0.3.0
description:
  - Does for each item of O(directories) what M(ansible.builtin.file) does with C(state=directory) (missing
    parents are created with the item's attributes, as that module does), in one module call. A loop of
    M(ansible.builtin.file) pays the connection once per item (about 0.4 s each over C(docker exec)), and
    the roles make their directories on every run.
  - Reports each directory it created or changed; check mode and diff mode as M(ansible.builtin.file).
author:
  - celeryops.deploy developers (@celeryops)
options:
  directories:
    description: The directories, in order (a parent before its children).
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Absolute path of the directory.
        type: path
        required: true
      owner:
        description: Its owner (name or uid); unset leaves it.
        type: str
      group:
        description: Its group (name or gid); unset leaves it.
        type: str
      mode:
        description: Its mode, as M(ansible.builtin.file) takes it (quote octal modes, for example C("0750")).
        type: raw
attributes:
  check_mode:
    support: full
    description: Reports what it would create or change and changes nothing.
  diff_mode:
    support: full
    description: Shows each change of state, owner, group or mode.
"""

EXAMPLES = r"""
- name: Create the app directories
  celeryops.deploy.celery_directories:
    directories:
      - {path: /opt/celery/shop, owner: root, group: root, mode: "0755"}
      - {path: /var/lib/celery/shop, owner: shop, group: shop, mode: "0750"}
"""

RETURN = r"""
changed_paths:
  description: The directories (and missing parents) created or whose owner, group or mode changed.
  returned: always
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule


def _missing(path):
    """The path and its missing parents, outermost first."""
    missing = []
    while path and path != os.path.dirname(path) and not os.path.lexists(path):
        missing.append(path)
        path = os.path.dirname(path)
    return list(reversed(missing))


def ensure(module, item, diffs):
    """Create item's directory (and missing parents) and set its attributes;
    return the paths changed."""
    path = item['path']
    if not os.path.isabs(path):
        module.fail_json(msg='celery_directories: %r is not an absolute path' % path)
    if os.path.lexists(path) and not os.path.isdir(path):
        module.fail_json(msg='celery_directories: %s exists and is not a directory' % path)
    changed = []
    for directory in _missing(path):
        diffs.append({'before': {'path': directory, 'state': 'absent'},
                      'after': {'path': directory, 'state': 'directory'}})
        changed.append(directory)
        if module.check_mode:
            continue
        try:
            os.mkdir(directory)
        except OSError as error:
            module.fail_json(msg='celery_directories: cannot create %s: %s' % (directory, error))
        module.set_fs_attributes_if_different(_file_args(module, item, directory), True)
    if changed and module.check_mode:
        return changed
    diff = {'before': {'path': path}, 'after': {'path': path}}
    if module.set_fs_attributes_if_different(_file_args(module, item, path), False, diff) and path not in changed:
        changed.append(path)
        diffs.append(diff)
    return changed


def _file_args(module, item, path):
    return module.load_file_common_arguments({'path': path, 'owner': item.get('owner'), 'group': item.get('group'),
                                              'mode': item.get('mode')})


def main():
    module = AnsibleModule(
        argument_spec=dict(
            directories=dict(type='list', elements='dict', required=True, options=dict(
                path=dict(type='path', required=True),
                owner=dict(type='str'),
                group=dict(type='str'),
                mode=dict(type='raw'),
            )),
        ),
        supports_check_mode=True,
    )
    diffs, changed = [], []
    for item in module.params['directories']:
        changed.extend(ensure(module, item, diffs))
    result = {'changed': bool(changed), 'changed_paths': changed}
    if module._diff:
        result['diff'] = diffs
    module.exit_json(**result)


if __name__ == '__main__':
    main()
