# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

"""The one error wrapper of the collection's filters (controller side only).

The filters are thin over pure functions in module_utils, which raise
KeyError, ValueError or TypeError on input they cannot take. Ansible shows an
AnsibleFilterError as a task failure with its message; anything else
surfaces as an unexpected templating error. Every filter goes through here.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import functools

from ansible.errors import AnsibleFilterError


def ansible_filter(name, function):
    """``function`` as the filter ``name``: its KeyError, ValueError or TypeError becomes an
    AnsibleFilterError that names the filter."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (KeyError, TypeError, ValueError) as exc:
            raise AnsibleFilterError('%s: %s' % (name, exc), orig_exc=exc)

    return wrapper


def filter_map(**functions):
    """The mapping a FilterModule's filters() returns, every entry wrapped."""
    return dict((name, ansible_filter(name, function)) for name, function in functions.items())
