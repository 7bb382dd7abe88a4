"""The celery_worker_plan module: argument handling, check mode, failures and warnings."""

import json

import pytest

from ansible.module_utils.common import warnings as ansible_warnings
from ansible.module_utils.testing import patch_module_args

from ansible_collections.celeryops.deploy.plugins.modules import celery_worker_plan as module

IO = {'name': 'io', 'kind': 'io', 'task_memory_mb': 60, 'avg_duration_s': 0.2, 'rate_per_s': 200}
REPORTS = {'name': 'reports', 'kind': 'cpu', 'task_memory_mb': 300, 'avg_duration_s': 20}


@pytest.fixture(autouse=True)
def fresh_warnings():
    """AnsibleModule collects warnings process-wide; start every test without the last one's."""
    pending = getattr(ansible_warnings, '_global_warnings', None)
    if pending is not None:
        pending.clear()


def warning_texts(result):
    """The task warnings as text (ansible-core 2.19 returns them as structured events)."""
    return [item['event']['msg'] if isinstance(item, dict) else item for item in result.get('warnings', [])]


def run_main(args, capsys):
    """Run the module's main() with ``args``; return (exit code, result)."""
    with patch_module_args(args):
        with pytest.raises(SystemExit) as exit_info:
            module.main()
    return exit_info.value.code, json.loads(capsys.readouterr().out)


@pytest.mark.parametrize('name', ['time_limit', 'time_limit_s'])
def test_main_takes_the_roles_key_names_and_the_old_ones(name, capsys):
    code, result = run_main({'cpus': 2, 'memory_mb': 4096, 'groups': [dict(REPORTS, **{name: 120})]}, capsys)
    assert code == 0, result
    group = result['groups'][0]
    # The role's names come back: a time limit of 120 s + 30 s to finish.
    assert group['stop_timeout'] == 150 and group['memory_limit_mb'] > 0
    assert not set(group) & {'stop_timeout_s', 'memory_max_mb', 'cpu_quota', 'requests', 'limits', 'replicas'}


def test_main_plans_given_resources(capsys):
    code, result = run_main({'cpus': 2, 'memory_mb': 4096, 'groups': [IO, REPORTS]}, capsys)
    assert code == 0
    assert result['changed'] is False
    assert result['resources']['cpus_source'] == 'given'
    assert [(group['name'], group['pool'], group['concurrency']) for group in result['groups']] == [
        ('io', 'threads', 51), ('reports', 'prefork', 1)]
    assert result['summary'][1] == 'reports: prefork x 1, 1 instance, prefetch 1 (CPUs: 1.1 usable -> 1)'
    # Group warnings surface as task warnings, named after their group.
    assert any(warning.startswith('group io: concurrency lowered from 60 to 51 by memory')
               for warning in warning_texts(result))
    assert result['plan_warnings'] == []


def test_check_mode_gives_the_same_plan(capsys):
    args = {'cpus': 64, 'memory_mb': 262144, 'groups': [IO, REPORTS]}
    _code, normal = run_main(args, capsys)
    _code, checked = run_main(dict(args, _ansible_check_mode=True), capsys)
    assert checked['groups'] == normal['groups'] and checked['resources'] == normal['resources']
    assert checked['changed'] is False


def test_argument_spec_converts_and_fills_defaults(capsys):
    # Strings as they come from -a or templating; io_share has no module default (kind io ignores it).
    group = {'name': 'crawl', 'kind': 'mixed', 'task_memory_mb': '50', 'avg_duration_s': '2', 'io_share': '0.8'}
    _code, result = run_main({'cpus': '2', 'memory_mb': '4096', 'groups': [group]}, capsys)
    crawl = result['groups'][0]
    # 80 % waiting of 2 s: 3 x (1 + 1.6 / 0.403) = 15, raised to the 10 %-CPU count (30): 0.4 s of CPU
    # is longer than the GIL's switch interval.
    assert (crawl['pool'], crawl['instances'], crawl['concurrency']) == ('threads', 2, 30)
    assert result['resources']['reserved_memory_mb'] == 512
    assert crawl['warnings'] == []


@pytest.mark.parametrize('args, fragment', [
    ({'cpus': 2, 'memory_mb': 4096, 'groups': [dict(IO, kind='network')]}, 'value of kind must be one of'),
    ({'cpus': 2, 'memory_mb': 4096, 'groups': [{'name': 'io', 'kind': 'io'}]}, 'missing required arguments'),
    ({'cpus': 2, 'memory_mb': 4096}, 'missing required arguments: groups'),
    ({'cpus': 2, 'memory_mb': 4096, 'groups': [dict(IO, task_memory_mb=5000)]},
     'celery_worker_plan: group io: one task needs 5080 MB'),
    ({'cpus': 2, 'memory_mb': 4096, 'groups': [IO, dict(REPORTS, name='io')]}, "the name 'io' is used twice"),
    ({'cpus': 2, 'memory_mb': 4096, 'groups': [dict(IO, io_share=2.0, kind='mixed')]},
     'groups[0] (io).io_share must be a number from 0 to below 1'),
])
def test_main_fails_with_a_clear_message(args, fragment, capsys):
    code, result = run_main(args, capsys)
    assert code == 1
    assert result['failed'] is True
    assert fragment in result['msg'], result['msg']


def test_main_reports_every_error(capsys):
    groups = [dict(IO, avg_duration_s=-1), dict(REPORTS, task_memory_mb=0)]
    code, result = run_main({'cpus': 2, 'memory_mb': 4096, 'groups': groups}, capsys)
    assert code == 1
    assert len(result['errors']) == 2
    assert result['msg'] == 'celery_worker_plan: ' + '; '.join(result['errors'])


def test_run_module_detects_what_is_not_given():
    calls = []

    def fake_detect(cpus=None, memory_mb=None):
        calls.append((cpus, memory_mb))
        return {'cpus': 1.5, 'cpus_source': 'cgroup v2', 'memory_mb': 512, 'memory_source': 'cgroup v2',
                'cgroup': 'v2'}

    params = {'cpus': None, 'memory_mb': None, 'reserved_memory_mb': 64, 'max_concurrency': 256,
              'allow_overcommit': False,
              'groups': [dict(REPORTS, task_memory_mb=100, avg_duration_s=2)]}
    result = module.run_module(params, detect=fake_detect)
    assert calls == [(None, None)]
    assert result['resources']['cgroup'] == 'v2'
    assert result['resources']['available_memory_mb'] == 448
    assert (result['groups'][0]['concurrency'], result['groups'][0]['cpu_limit']) == (1, 1.5)


def fake_machine(root, cpus, memory_mb):
    """A /proc and cgroup v2 tree under ``root`` that detect_resources reads as ``cpus`` and ``memory_mb``."""
    (root / 'proc' / 'self').mkdir(parents=True)
    (root / 'proc' / 'meminfo').write_text('MemTotal:       %d kB\n' % (memory_mb * 1024))
    (root / 'proc' / 'self' / 'cgroup').write_text('0::/\n')
    cgroup = root / 'sys' / 'fs' / 'cgroup'
    cgroup.mkdir(parents=True)
    (cgroup / 'cgroup.controllers').write_text('cpu memory\n')
    (cgroup / 'cpu.max').write_text('%d 100000\n' % (cpus * 100000))
    (cgroup / 'memory.max').write_text('max\n')
    return str(root)


def test_given_resources_plan_the_same_on_any_machine(tmp_path):
    """The GitOps case (celery_worker_plan_cpus/_memory_mb on Kubernetes): two
    machines that detect differently render the same plan from the same
    variables, and differently without them (so the comparison can fail)."""
    from ansible_collections.celeryops.deploy.plugins.module_utils._celery_resources import detect_resources

    small = fake_machine(tmp_path / 'laptop', 1, 2048)
    large = fake_machine(tmp_path / 'ci', 8, 32768)
    params = {'reserved_memory_mb': 512, 'max_concurrency': 256, 'allow_overcommit': False,
              'groups': [dict(IO), dict(REPORTS)]}

    def plan(root, **given):
        def detect(cpus=None, memory_mb=None):
            return detect_resources(root=root, cpus=cpus, memory_mb=memory_mb, affinity=(64, 'affinity'))
        return module.run_module(dict(params, cpus=given.get('cpus'), memory_mb=given.get('memory_mb')), detect=detect)

    detected = plan(small), plan(large)
    assert detected[0]['resources']['cpus'] == 1 and detected[1]['resources']['cpus'] == 8
    assert detected[0]['groups'] != detected[1]['groups']
    given = plan(small, cpus=2, memory_mb=4096), plan(large, cpus=2, memory_mb=4096)
    assert json.dumps(given[0], sort_keys=True) == json.dumps(given[1], sort_keys=True)
    assert given[0]['resources']['cpus_source'] == given[0]['resources']['memory_source'] == 'given'


def test_overload_shows_as_plan_warning(capsys):
    groups = [dict(REPORTS, name='a', avg_duration_s=2, rate_per_s=2),
              dict(REPORTS, name='b', avg_duration_s=1, rate_per_s=1)]
    _code, result = run_main({'cpus': 4.5, 'memory_mb': 16384, 'groups': groups}, capsys)
    assert result['plan_warnings'] == ['CPU overload: the groups need 9 CPUs with headroom (a 7, b 2) but 4.5 are'
                                       ' usable; they are shared in proportion to need']
    assert result['plan_warnings'][0] in warning_texts(result)
    assert 'group a: this plan runs about 1.5 tasks/s, below rate_per_s 2: the queue grows; add hosts or replicas' \
        in warning_texts(result)
    assert not any(text.startswith('group io') for text in warning_texts(result))
