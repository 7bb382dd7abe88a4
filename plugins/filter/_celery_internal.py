# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The roles' own steps, not for playbooks: undocumented on purpose (a leading underscore, no sidecar docs).

_celery_renamed     the defined variable names, the play's roles -> [[old, new]] of renamed variables set by their old name
_celery_deprecated  those pairs, the old and the new values -> the errors (both set, different); warns once per old name
_celery_warn        deprecation messages (old worker group keys) -> warns once each; True
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.utils.display import Display
from ansible_collections.celeryops.deploy.plugins.plugin_utils._celery_renames import conflicts, deprecation, renamed_set
from ansible_collections.celeryops.deploy.plugins.plugin_utils._filter import filter_map


def warn(messages):
    for message in messages:
        # A literal version: sanity's pylint checks it against galaxy.yml's (REMOVED_IN in the table says the same).
        Display().deprecated(message, version='0.4.0', collection_name='celeryops.deploy')
    return True


def deprecated(pairs, old_values, new_values):
    warn([deprecation(old, new) for old, new in pairs])
    return conflicts(pairs, old_values, new_values)


class FilterModule(object):
    """Internal filters of celeryops.deploy."""

    def filters(self):
        return filter_map(_celery_renamed=renamed_set, _celery_deprecated=deprecated, _celery_warn=warn)
