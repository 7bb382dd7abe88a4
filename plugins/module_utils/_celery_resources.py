# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The target's usable CPUs and memory, as celery_worker_plan sizes from them.

Affinity, /proc/meminfo and cgroup (v1 and v2) limits, the smallest of them
winning. No Ansible imports; every reader takes the file system root as a
parameter so that tests run them on fake ``/proc`` and ``/sys/fs/cgroup``
trees. The sizing itself is in _celery_plan.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import posixpath

# cgroup v1 reports "no limit" as a huge number (PAGE_COUNTER_MAX pages, e.g.
# 9223372036854771712); anything from 2**62 up counts as unlimited.
V1_NO_MEMORY_LIMIT = 2 ** 62


class ResourceError(Exception):
    """The resources cannot be detected; the message says which value to give."""


# --------------------------------------------------------------------------
# Resources: CPUs and memory, from affinity, /proc/meminfo and cgroups
# --------------------------------------------------------------------------

def read_text(path):
    """The file's text, or None when it cannot be read."""
    try:
        with open(path) as handle:
            return handle.read()
    except (IOError, OSError):
        return None


def parse_meminfo_total_mb(text):
    """MemTotal of /proc/meminfo in MiB, or None."""
    for line in (text or '').splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] == 'MemTotal:':
            try:
                return int(fields[1]) // 1024  # the value is in KiB
            except ValueError:
                return None
    return None


def parse_proc_self_cgroup(text):
    """Parse /proc/self/cgroup.

    Returns ``{'v2': path or None, 'v1': {controller: (hierarchy, path)}}``:
    a v2 line is ``0::/path``; a v1 line is ``N:cpu,cpuacct:/path``, whose
    hierarchy (``cpu,cpuacct``) is also the usual name of its mount directory.
    """
    result = {'v2': None, 'v1': {}}
    for line in (text or '').splitlines():
        parts = line.strip().split(':', 2)
        if len(parts) != 3:
            continue
        number, controllers, path = parts
        if number == '0' and controllers == '':
            result['v2'] = path
        elif controllers:
            for controller in controllers.split(','):
                result['v1'][controller] = (controllers, path)
    return result


def cgroup_ancestors(path):
    """``/a/b`` -> ``['/a/b', '/a', '/']``: a limit on any ancestor applies too."""
    current = posixpath.normpath('/' + (path or '/').lstrip('/'))
    result = [current]
    while current != '/':
        current = posixpath.dirname(current)
        result.append(current)
    return result


def parse_cpu_max(text):
    """cgroup v2 cpu.max (``max 100000`` or ``150000 100000``) -> CPUs or None."""
    fields = (text or '').split()
    if len(fields) != 2 or fields[0] == 'max':
        return None
    return parse_cfs(fields[0], fields[1])


def parse_cfs(quota, period):
    """cgroup v1 cpu.cfs_quota_us / cpu.cfs_period_us -> CPUs, None for -1."""
    try:
        quota, period = int(str(quota).strip()), int(str(period).strip())
    except ValueError:
        return None
    if quota <= 0 or period <= 0:
        return None
    return quota / period


def parse_memory_max(text):
    """cgroup v2 memory.max (``max`` or bytes) -> bytes or None."""
    value = (text or '').strip()
    if not value or value == 'max':
        return None
    try:
        return int(value)
    except ValueError:
        return None


def parse_v1_memory_limit(text):
    """cgroup v1 memory.limit_in_bytes -> bytes, None when unlimited."""
    try:
        value = int((text or '').strip())
    except ValueError:
        return None
    if value <= 0 or value >= V1_NO_MEMORY_LIMIT:
        return None
    return value


def _min_over_ancestors(base, path, read):
    """Smallest limit found in the process's cgroup and its ancestors under ``base``.

    In a container the process's path (from the host's view) usually does not
    exist under the container's own cgroup mount: those directories are
    skipped, which falls back to the mount root, the container's cgroup.
    """
    values = []
    for relative in cgroup_ancestors(path):
        directory = posixpath.join(base, relative.lstrip('/'))
        value = read(directory)
        if value is not None:
            values.append(value)
    return min(values) if values else None


def _read_v2_cpu(directory):
    return parse_cpu_max(read_text(posixpath.join(directory, 'cpu.max')))


def _read_v2_memory(directory):
    return parse_memory_max(read_text(posixpath.join(directory, 'memory.max')))


def _read_v1_cpu(directory):
    quota = read_text(posixpath.join(directory, 'cpu.cfs_quota_us'))
    period = read_text(posixpath.join(directory, 'cpu.cfs_period_us'))
    if quota is None or period is None:
        return None
    return parse_cfs(quota, period)


def _read_v1_memory(directory):
    return parse_v1_memory_limit(read_text(posixpath.join(directory, 'memory.limit_in_bytes')))


def cgroup_limits(root='/'):
    """CPU quota (CPUs) and memory limit (bytes) of this process's cgroups.

    Returns ``{'version': 'v2'|'v1'|None, 'cpus': float|None, 'memory_bytes': int|None}``.
    cgroup v2 when ``sys/fs/cgroup/cgroup.controllers`` exists (the unified
    hierarchy is mounted there), else v1 with one mount per hierarchy
    (``sys/fs/cgroup/cpu,cpuacct`` or ``.../cpu``, ``.../memory``).
    """
    cgroup_root = posixpath.join(root, 'sys/fs/cgroup')
    own = parse_proc_self_cgroup(read_text(posixpath.join(root, 'proc/self/cgroup')))
    if os.path.exists(posixpath.join(cgroup_root, 'cgroup.controllers')):
        path = own['v2'] or '/'
        return {'version': 'v2',
                'cpus': _min_over_ancestors(cgroup_root, path, _read_v2_cpu),
                'memory_bytes': _min_over_ancestors(cgroup_root, path, _read_v2_memory)}
    if not os.path.isdir(cgroup_root):
        return {'version': None, 'cpus': None, 'memory_bytes': None}
    cpu_hierarchy, cpu_path = own['v1'].get('cpu', ('cpu', '/'))
    cpus = None
    # The mount is named after the hierarchy; 'cpu' is the usual symlink.
    for mount in (cpu_hierarchy, 'cpu', 'cpu,cpuacct', 'cpuacct,cpu'):
        mount_dir = posixpath.join(cgroup_root, mount)
        if os.path.isdir(mount_dir):
            cpus = _min_over_ancestors(mount_dir, cpu_path, _read_v1_cpu)
            if cpus is not None:
                break
    memory_hierarchy, memory_path = own['v1'].get('memory', ('memory', '/'))
    memory = None
    for mount in (memory_hierarchy, 'memory'):
        mount_dir = posixpath.join(cgroup_root, mount)
        if os.path.isdir(mount_dir):
            memory = _min_over_ancestors(mount_dir, memory_path, _read_v1_memory)
            if memory is not None:
                break
    return {'version': 'v1', 'cpus': cpus, 'memory_bytes': memory}


def affinity_cpus():
    """CPUs this process may run on (taskset, cpusets), as Python sees them."""
    if hasattr(os, 'sched_getaffinity'):
        try:
            return len(os.sched_getaffinity(0)), 'affinity'
        except OSError:
            pass
    return os.cpu_count() or 1, 'cpu_count'


def detect_resources(root='/', cpus=None, memory_mb=None, affinity=None):
    """Usable CPUs and memory: given values win, else detected under ``root``.

    usable CPUs = min(affinity CPUs, cgroup CPU quota);
    memory = min(MemTotal, cgroup memory limit).
    ``affinity`` is ``(count, source)``; None reads this process's affinity.
    Returns ``{'cpus', 'cpus_source', 'memory_mb', 'memory_source', 'cgroup'}``.
    """
    result = {'cpus': None, 'cpus_source': 'given', 'memory_mb': None, 'memory_source': 'given',
              'cgroup': None}
    limits = None
    if cpus is None or memory_mb is None:
        limits = cgroup_limits(root)
        result['cgroup'] = limits['version']
    if cpus is not None:
        result['cpus'] = float(cpus)
    else:
        count, source = affinity if affinity is not None else affinity_cpus()
        result['cpus'], result['cpus_source'] = float(count), source
        if limits['cpus'] is not None and limits['cpus'] < count:
            result['cpus'] = round(limits['cpus'], 3)
            result['cpus_source'] = 'cgroup %s' % limits['version']
    if memory_mb is not None:
        result['memory_mb'] = int(memory_mb)
    else:
        total = parse_meminfo_total_mb(read_text(posixpath.join(root, 'proc/meminfo')))
        result['memory_mb'], result['memory_source'] = total, 'meminfo'
        if limits['memory_bytes'] is not None:
            limit_mb = limits['memory_bytes'] // (1024 * 1024)
            if total is None or limit_mb < total:
                result['memory_mb'] = limit_mb
                result['memory_source'] = 'cgroup %s' % limits['version']
        if result['memory_mb'] is None:
            raise ResourceError('could not detect the memory of the target (no %s and no cgroup memory limit);'
                                ' give memory_mb' % posixpath.join(root, 'proc/meminfo'))
    return result
