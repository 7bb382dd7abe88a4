"""Shared by the renderers' tests: the worker role's path through the plan; promtool."""

import shutil

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_plan as cp
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_worker as cw

# Two groups that describe their workload; reports sets its own memory limit.
PLANNED_RAW = [{'name': 'io', 'queues': ['io'], 'kind': 'io', 'task_memory_mb': 60, 'avg_duration_s': 0.2,
                'rate_per_s': 200},
               {'name': 'reports', 'queues': ['reports'], 'kind': 'cpu', 'task_memory_mb': 300,
                'avg_duration_s': 20, 'memory_limit_mb': 2000}]


@pytest.fixture
def role_path():
    """(plan groups by name, resolved groups) as the role makes them on a 2-CPU, 4 GiB host:
    resolve (the plan request) -> celery_worker_plan -> resolve with the plan."""
    options = {'app_module': 'shop.celery:app'}
    request = cw.resolve_groups(PLANNED_RAW, options)['plan_request']
    planned = cp.make_plan({'groups': request}, {'cpus': 2, 'memory_mb': 4096})['groups']
    resolved = cw.resolve_groups(PLANNED_RAW, options, planned)
    assert resolved['errors'] == []
    return dict((item['name'], item) for item in planned), resolved['groups']


@pytest.fixture(scope='module')
def promtool():
    """Debian's promtool (make unit installs its prometheus package, never started)."""
    path = shutil.which('promtool')
    if not path:
        pytest.fail('promtool is not installed (make unit installs Debian\'s prometheus)')
    return path
