"""Worker plan: resource detection on fake /proc and cgroup trees, and the sizing rules."""

import pytest

from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_plan as cp
from ansible_collections.celeryops.deploy.plugins.module_utils import _celery_resources as cr

IO = {'name': 'io', 'kind': 'io', 'task_memory_mb': 60, 'avg_duration_s': 0.2, 'rate_per_s': 200}
REPORTS = {'name': 'reports', 'kind': 'cpu', 'task_memory_mb': 300, 'avg_duration_s': 20}
VM = {'cpus': 2, 'memory_mb': 4096}            # a 2-CPU VM with 4 GiB
BIG = {'cpus': 64, 'memory_mb': 262144}        # a 64-CPU host with 256 GiB
GIB = 1024 ** 3


def plan(groups, resources=None, **params):
    params['groups'] = groups
    return cp.make_plan(params, resources or VM)


def group_of(result, name):
    return next(group for group in result['groups'] if group['name'] == name)


def without_text(group):
    return dict((key, value) for key, value in group.items() if key not in ('reasons', 'warnings', 'summary'))


# What the platforms make of a plan: systemd CPUQuota from cpu_limit (as the
# worker role resolves it), Kubernetes quantities from the request and limit
# values (as _celery_k8s renders them).
def quota(group):
    return cp.systemd_cpu_quota(group['cpu_limit'])


def requests(group):
    return {'cpu': cp.k8s_cpu(group['cpu_request']), 'memory': '%dMi' % group['memory_request_mb']}


def limits(group):
    return {'cpu': cp.k8s_cpu(group['cpu_limit']), 'memory': '%dMi' % group['memory_limit_mb']}


def write(root, relative, text):
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


MEMINFO = 'MemTotal:        8155712 kB\nMemFree:         1000000 kB\n'  # 7964 MiB


# --------------------------------------------------------------------------
# Parsers
# --------------------------------------------------------------------------

@pytest.mark.parametrize('text, expected', [
    ('max 100000', None),
    ('150000 100000', 1.5),
    ('200000 100000\n', 2.0),
    ('50000 100000', 0.5),
    ('', None),
    (None, None),
    ('garbage', None),
])
def test_parse_cpu_max(text, expected):
    assert cr.parse_cpu_max(text) == expected


@pytest.mark.parametrize('quota, period, expected', [
    ('-1\n', '100000\n', None),
    ('150000', '100000', 1.5),
    ('25000', '50000', 0.5),
    ('x', '100000', None),
    ('100000', '0', None),
])
def test_parse_cfs(quota, period, expected):
    assert cr.parse_cfs(quota, period) == expected


@pytest.mark.parametrize('text, expected', [
    ('max\n', None),
    ('536870912\n', 536870912),
    ('', None),
    ('lots', None),
])
def test_parse_memory_max(text, expected):
    assert cr.parse_memory_max(text) == expected


@pytest.mark.parametrize('text, expected', [
    ('9223372036854771712\n', None),   # v1 "no limit" on 4 KiB pages
    ('9223372036854775807', None),
    ('536870912', 536870912),
    ('0', None),
    ('', None),
])
def test_parse_v1_memory_limit(text, expected):
    assert cr.parse_v1_memory_limit(text) == expected


@pytest.mark.parametrize('text, expected', [
    (MEMINFO, 7964),
    ('MemFree: 1 kB\n', None),
    ('', None),
    (None, None),
])
def test_parse_meminfo(text, expected):
    assert cr.parse_meminfo_total_mb(text) == expected


def test_parse_proc_self_cgroup_v1_and_v2_lines():
    text = '12:memory:/docker/abc\n4:cpu,cpuacct:/docker/abc\n1:name=systemd:/init.scope\n0::/system.slice/x\n'
    parsed = cr.parse_proc_self_cgroup(text)
    assert parsed['v2'] == '/system.slice/x'
    assert parsed['v1']['cpu'] == ('cpu,cpuacct', '/docker/abc')
    assert parsed['v1']['cpuacct'] == ('cpu,cpuacct', '/docker/abc')
    assert parsed['v1']['memory'] == ('memory', '/docker/abc')


@pytest.mark.parametrize('path, expected', [
    ('/', ['/']),
    ('/a/b', ['/a/b', '/a', '/']),
    ('a/b/', ['/a/b', '/a', '/']),
    ('/a/../..', ['/']),
])
def test_cgroup_ancestors(path, expected):
    assert cr.cgroup_ancestors(path) == expected


@pytest.mark.parametrize('cpus, expected', [
    (2, '2'), (1.5, '1500m'), (0.9, '900m'), (0.225, '225m'), (63.1, '63100m'), (2.5916666, '2592m'),
])
def test_k8s_cpu(cpus, expected):
    assert cp.k8s_cpu(cpus) == expected


@pytest.mark.parametrize('cpus, expected', [(2, '200%'), (1.1, '110%'), (0.005, '1%'), (63.1, '6310%')])
def test_systemd_cpu_quota(cpus, expected):
    assert cp.systemd_cpu_quota(cpus) == expected


# --------------------------------------------------------------------------
# Detection on fake trees
# --------------------------------------------------------------------------

def v2_container(root, cpu_max='150000 100000', memory_max=str(512 * 1024 * 1024), own='/'):
    """A cgroup v2 container: the mount root is the container's cgroup."""
    write(root, 'proc/meminfo', MEMINFO)
    write(root, 'proc/self/cgroup', '0::%s\n' % own)
    write(root, 'sys/fs/cgroup/cgroup.controllers', 'cpu memory pids\n')
    write(root, 'sys/fs/cgroup/cpu.max', cpu_max + '\n')
    write(root, 'sys/fs/cgroup/memory.max', memory_max + '\n')


def v1_container(root, quota='150000', memory=str(512 * 1024 * 1024), own='/docker/abc', mount='cpu,cpuacct'):
    """A cgroup v1 container: /proc/self/cgroup shows the host's path, the mounts are the container's."""
    write(root, 'proc/meminfo', MEMINFO)
    write(root, 'proc/self/cgroup', '12:memory:%s\n4:%s:%s\n0::/\n' % (own, mount, own))
    write(root, 'sys/fs/cgroup/%s/cpu.cfs_quota_us' % mount, quota + '\n')
    write(root, 'sys/fs/cgroup/%s/cpu.cfs_period_us' % mount, '100000\n')
    write(root, 'sys/fs/cgroup/memory/memory.limit_in_bytes', memory + '\n')


def test_detect_v2_container(tmp_path):
    v2_container(tmp_path)
    assert cr.detect_resources(str(tmp_path), affinity=(64, 'affinity')) == {
        'cpus': 1.5, 'cpus_source': 'cgroup v2', 'memory_mb': 512, 'memory_source': 'cgroup v2', 'cgroup': 'v2'}


def test_detect_v2_host_path_missing_falls_back_to_root(tmp_path):
    # The path seen in /proc/self/cgroup does not exist under the container's mount.
    v2_container(tmp_path, own='/kubepods/burstable/pod1/abc')
    found = cr.detect_resources(str(tmp_path), affinity=(64, 'affinity'))
    assert (found['cpus'], found['memory_mb']) == (1.5, 512)


def test_detect_v2_own_cgroup_and_ancestors(tmp_path):
    # No limit at the root; the service has a CPU quota, its parent slice a memory limit.
    v2_container(tmp_path, cpu_max='max 100000', memory_max='max', own='/system.slice/app.service')
    write(tmp_path, 'sys/fs/cgroup/system.slice/app.service/cpu.max', '300000 100000\n')
    write(tmp_path, 'sys/fs/cgroup/system.slice/app.service/memory.max', 'max\n')
    write(tmp_path, 'sys/fs/cgroup/system.slice/memory.max', str(2 * GIB) + '\n')
    found = cr.detect_resources(str(tmp_path), affinity=(8, 'affinity'))
    assert (found['cpus'], found['cpus_source'], found['memory_mb'], found['memory_source']) == (
        3.0, 'cgroup v2', 2048, 'cgroup v2')


def test_detect_v2_without_limits_uses_affinity_and_meminfo(tmp_path):
    v2_container(tmp_path, cpu_max='max 100000', memory_max='max')
    assert cr.detect_resources(str(tmp_path), affinity=(2, 'affinity')) == {
        'cpus': 2.0, 'cpus_source': 'affinity', 'memory_mb': 7964, 'memory_source': 'meminfo', 'cgroup': 'v2'}


def test_detect_quota_above_affinity_keeps_affinity(tmp_path):
    v2_container(tmp_path, cpu_max='800000 100000', memory_max=str(64 * GIB))
    found = cr.detect_resources(str(tmp_path), affinity=(2, 'affinity'))
    assert (found['cpus'], found['cpus_source']) == (2.0, 'affinity')
    assert (found['memory_mb'], found['memory_source']) == (7964, 'meminfo')  # limit above MemTotal


def test_detect_v1_container(tmp_path):
    v1_container(tmp_path)
    assert cr.detect_resources(str(tmp_path), affinity=(64, 'affinity')) == {
        'cpus': 1.5, 'cpus_source': 'cgroup v1', 'memory_mb': 512, 'memory_source': 'cgroup v1', 'cgroup': 'v1'}


def test_detect_v1_separate_cpu_mount(tmp_path):
    # Hosts that mount cpu and cpuacct apart: "1:cpu:/path".
    v1_container(tmp_path, quota='50000', mount='cpu')
    assert cr.detect_resources(str(tmp_path), affinity=(4, 'affinity'))['cpus'] == 0.5


def test_detect_v1_own_path_has_the_limit(tmp_path):
    # A host (no namespace): the limits sit at the process's own cgroup, the root has none.
    v1_container(tmp_path, quota='-1', memory='9223372036854771712', own='/process_api/a1')
    write(tmp_path, 'sys/fs/cgroup/cpu,cpuacct/process_api/a1/cpu.cfs_quota_us', '200000\n')
    write(tmp_path, 'sys/fs/cgroup/cpu,cpuacct/process_api/a1/cpu.cfs_period_us', '100000\n')
    write(tmp_path, 'sys/fs/cgroup/memory/process_api/a1/memory.limit_in_bytes', str(GIB) + '\n')
    found = cr.detect_resources(str(tmp_path), affinity=(4, 'affinity'))
    assert (found['cpus'], found['memory_mb'], found['memory_source']) == (2.0, 1024, 'cgroup v1')


def test_detect_v1_unlimited(tmp_path):
    v1_container(tmp_path, quota='-1', memory='9223372036854771712')
    assert cr.detect_resources(str(tmp_path), affinity=(2, 'affinity')) == {
        'cpus': 2.0, 'cpus_source': 'affinity', 'memory_mb': 7964, 'memory_source': 'meminfo', 'cgroup': 'v1'}


def test_detect_given_values_win(tmp_path):
    v2_container(tmp_path)
    found = cr.detect_resources(str(tmp_path), cpus=3, memory_mb=1000, affinity=(64, 'affinity'))
    assert (found['cpus'], found['cpus_source'], found['memory_mb'], found['memory_source']) == (
        3.0, 'given', 1000, 'given')


def test_detect_without_proc_fails_clearly(tmp_path):
    with pytest.raises(cr.ResourceError, match='give memory_mb'):
        cr.detect_resources(str(tmp_path), affinity=(2, 'affinity'))


def test_detect_this_machine():
    found = cr.detect_resources()
    assert found['cpus'] >= 0.01 and found['memory_mb'] > 0
    assert found['cpus_source'] in ('affinity', 'cpu_count', 'cgroup v1', 'cgroup v2')


# --------------------------------------------------------------------------
# CPU split
# --------------------------------------------------------------------------

INF = float('inf')


@pytest.mark.parametrize('total, demands, expected', [
    (2, [INF], [2]),
    (2, [None, INF], [None, 2]),
    (2, [0.9, INF], [0.9, 1.1]),
    (8, [INF, INF], [4, 4]),
    (8, [1, 2, INF], [1, 2, 5]),
    (8, [4, INF, INF, 0.225], [2.591667, 2.591667, 2.591667, 0.225]),   # 4 > the equal level
    (8, [2, 3], [2, 3]),                     # all met, 3 CPUs stay free
    (4, [6, 2], [3, 1]),                     # overload: same fraction of each need
    (2, [None], [None]),
])
def test_split_cpus(total, demands, expected):
    shares = cp.split_cpus(total, demands)
    assert [None if share is None else round(share, 6) for share in shares] == expected


# --------------------------------------------------------------------------
# Canonical plans: every field
# --------------------------------------------------------------------------

def test_vm_2_cpus_4_gib_canonical():
    result = plan([IO, REPORTS])
    assert result['resources'] == {
        'cpus': 2.0, 'cpus_source': 'given', 'memory_mb': 4096, 'memory_source': 'given',
        'reserved_memory_mb': 512, 'available_memory_mb': 3584, 'planned_memory_mb': 3580}
    io, reports = result['groups']
    # Little's law asks 200 x 0.2 x 1.5 = 60 threads = 80 + 3600 MB; with reports' 440 MB that is more
    # than 3584 MB, so io gets 3584 - 440 = 3144 MB: (3144 - 80) // 60 = 51 threads.
    assert without_text(io) == {
        'name': 'io', 'pool': 'threads', 'concurrency': 51, 'instances': 1,
        'prefetch_multiplier': 4, 'max_tasks_per_child': None, 'max_memory_per_child': None,
        'stop_timeout': 60, 'memory_limit_mb': 3584, 'cpu_limit': 1.0,
        'cpu_request': 0.9, 'memory_request_mb': 3140,
        'autoscale_queue_length': 204, 'capacity_per_s': 255.0}
    assert io['warnings'] == ['concurrency lowered from 60 to 51 by memory: 3144 MB available (memory_mb 4096'
                              ' (given) - reserved_memory_mb 512) (its share of the memory left by the other groups)']
    assert io['summary'] == ("io: threads x 51, 1 instance, prefetch 4 (Little's law: 200/s x 0.2 s x 1.5 = 60,"
                             " capped by memory)")
    # io's Celery overhead reserves 200 x 3 ms x 1.5 = 0.9 CPU: reports gets 1.1, i.e. one process.
    assert without_text(reports) == {
        'name': 'reports', 'pool': 'prefork', 'concurrency': 1, 'instances': 1,
        'prefetch_multiplier': 1, 'max_tasks_per_child': 1000, 'max_memory_per_child': (80 + 450) * 1024,
        'stop_timeout': 90, 'memory_limit_mb': 610, 'cpu_limit': 1.1,
        'cpu_request': 1.1, 'memory_request_mb': 440,
        'autoscale_queue_length': 1, 'capacity_per_s': 0.05}
    assert reports['warnings'] == []
    assert reports['summary'] == 'reports: prefork x 1, 1 instance, prefetch 1 (CPUs: 1.1 usable -> 1)'
    assert result['summary'] == [io['summary'], reports['summary']]
    assert result['warnings'] == []


def test_host_64_cpus_256_gib_canonical():
    result = plan([IO, REPORTS], BIG)
    io, reports = result['groups']
    assert without_text(io) == {
        'name': 'io', 'pool': 'threads', 'concurrency': 60, 'instances': 1,
        'prefetch_multiplier': 4, 'max_tasks_per_child': None, 'max_memory_per_child': None,
        'stop_timeout': 60, 'memory_limit_mb': 4600, 'cpu_limit': 1.0,
        'cpu_request': 0.9, 'memory_request_mb': 3680,
        'autoscale_queue_length': 240, 'capacity_per_s': 300.0}
    # 64 - 0.9 = 63.1 CPUs -> 63 processes; MemoryMax leaves room for 63 children at 530 MB peak RSS.
    assert without_text(reports) == {
        'name': 'reports', 'pool': 'prefork', 'concurrency': 63, 'instances': 1,
        'prefetch_multiplier': 1, 'max_tasks_per_child': 1000, 'max_memory_per_child': 542720,
        'stop_timeout': 90, 'memory_limit_mb': 80 + 63 * 530, 'cpu_limit': 63.1,
        'cpu_request': 63.1, 'memory_request_mb': 22760,
        'autoscale_queue_length': 63, 'capacity_per_s': 3.15}
    assert io['warnings'] == reports['warnings'] == result['warnings'] == []
    assert result['resources']['planned_memory_mb'] == 3680 + 22760


def test_container_cgroup_v2_1_5_cpus_512_mib(tmp_path):
    v2_container(tmp_path)
    resources = cr.detect_resources(str(tmp_path), affinity=(64, 'affinity'))
    groups = [{'name': 'thumbs', 'kind': 'cpu', 'task_memory_mb': 100, 'avg_duration_s': 2},
              {'name': 'hooks', 'kind': 'io', 'task_memory_mb': 10, 'avg_duration_s': 0.5}]
    result = cp.make_plan({'groups': groups, 'reserved_memory_mb': 64}, resources)
    assert result['resources']['cpus'] == 1.5 and result['resources']['cpus_source'] == 'cgroup v2'
    assert result['resources']['available_memory_mb'] == 448
    thumbs, hooks = result['groups']
    # Celery's default would be 64 children here (os.cpu_count()); the quota allows one.
    assert without_text(thumbs) == {
        'name': 'thumbs', 'pool': 'prefork', 'concurrency': 1, 'instances': 1,
        'prefetch_multiplier': 1, 'max_tasks_per_child': 1000, 'max_memory_per_child': (80 + 150) * 1024,
        'stop_timeout': 60, 'memory_limit_mb': 310, 'cpu_limit': 1.5,
        'cpu_request': 1.5, 'memory_request_mb': 240,
        'autoscale_queue_length': 1, 'capacity_per_s': 0.499}
    # Without a rate: 1.5 x 0.5 s / 3 ms = 250 threads, but 448 - 240 = 208 MB leave (208 - 80) // 10 = 12.
    assert hooks['pool'] == 'threads'
    assert (hooks['concurrency'], hooks['instances'], hooks['prefetch_multiplier']) == (12, 1, 4)
    assert hooks['warnings'] == ['concurrency lowered from 250 to 12 by memory: 208 MB available (memory_mb 512'
                                 ' (cgroup v2) - reserved_memory_mb 64) (its share of the memory left by the'
                                 ' other groups)']
    assert hooks['memory_limit_mb'] == 250 and quota(hooks) == '100%'
    assert result['resources']['planned_memory_mb'] == 240 + 200


def test_container_cgroup_v1_1_5_cpus_512_mib(tmp_path):
    v1_container(tmp_path)
    resources = cr.detect_resources(str(tmp_path), affinity=(64, 'affinity'))
    result = cp.make_plan({'groups': [dict(REPORTS, task_memory_mb=100, avg_duration_s=2)],
                           'reserved_memory_mb': 64}, resources)
    group = result['groups'][0]
    assert result['resources']['cpus_source'] == 'cgroup v1'
    assert (group['concurrency'], quota(group)) == (1, '150%')
    assert requests(group) == {'cpu': '1500m', 'memory': '240Mi'}


def test_container_default_reserve_leaves_nothing():
    with pytest.raises(cp.PlanError, match=r'no memory left for workers: memory_mb 512 \(cgroup v2\) - '
                                           r'reserved_memory_mb 512 = 0 MB; the memory is a cgroup limit.*'
                                           r'a smaller reserved_memory_mb may do'):
        cp.make_plan({'groups': [IO]}, {'cpus': 1.5, 'memory_mb': 512, 'memory_source': 'cgroup v2'})


# --------------------------------------------------------------------------
# Several groups on one host
# --------------------------------------------------------------------------

def test_several_groups_share_cpus_by_need():
    groups = [
        {'name': 'thumbs', 'kind': 'cpu', 'task_memory_mb': 100, 'avg_duration_s': 0.5, 'rate_per_s': 4},
        {'name': 'pdf', 'kind': 'cpu', 'task_memory_mb': 200, 'avg_duration_s': 10},
        {'name': 'crawl', 'kind': 'mixed', 'io_share': 0.75, 'task_memory_mb': 50, 'avg_duration_s': 2},
        {'name': 'mail', 'kind': 'io', 'task_memory_mb': 20, 'avg_duration_s': 0.5, 'rate_per_s': 50},
    ]
    result = plan(groups, {'cpus': 8, 'memory_mb': 32768})
    thumbs, pdf, crawl, mail = result['groups']
    # Needs: thumbs ceil(4 x 0.503 x 1.5) = 4, mail 50 x 3 ms x 1.5 = 0.225, pdf and crawl unbounded.
    # mail's need is met; the other three share 7.775 equally: 2.5917 each, returned (and
    # rendered) as 2.59.
    assert (thumbs['pool'], thumbs['concurrency'], quota(thumbs)) == ('prefork', 2, '259%')
    assert (pdf['pool'], pdf['concurrency'], quota(pdf), requests(pdf)['cpu']) == (
        'prefork', 2, '259%', '2590m')
    # mixed, waits 75%: W/C = 1.5 s / 0.503 s = 2.98, 3 x (1 + 2.98) = 12 threads per process, but
    # 0.5 s of CPU is longer than the GIL's switch interval: no fewer than for 10% CPU,
    # 3 x (1 + 1.8 s / 0.203 s) = 30; one process per CPU of 2.59.
    assert (crawl['pool'], crawl['instances'], crawl['concurrency'], quota(crawl)) == ('threads', 2, 30, '130%')
    assert crawl['max_tasks_per_child'] is None and crawl['max_memory_per_child'] is None
    assert (mail['pool'], mail['instances'], mail['concurrency']) == ('threads', 1, 38)
    # 0.225 is returned as 0.22 (two decimals, the float below 0.225).
    assert (requests(mail)['cpu'], limits(mail)['cpu'], quota(mail)) == ('220m', '1', '100%')
    # thumbs needed 4 CPUs with headroom but got 2.59: 2 processes run 2 / 0.503 = 3.98 tasks/s < 4/s.
    assert thumbs['capacity_per_s'] == 3.98
    assert thumbs['warnings'] == ['this plan runs about 3.98 tasks/s, below rate_per_s 4: the queue grows;'
                                  ' add hosts or replicas']
    assert result['warnings'] == []


def test_groups_with_known_needs_below_the_cpus_get_their_need():
    groups = [dict(REPORTS, name='a', avg_duration_s=2, rate_per_s=0.5),     # ceil(0.5 x 2.003 x 1.5) = 2
              dict(REPORTS, name='b', avg_duration_s=1, rate_per_s=2)]       # ceil(2 x 1.003 x 1.5) = 4
    a, b = plan(groups, {'cpus': 16, 'memory_mb': 65536})['groups']
    assert (a['concurrency'], quota(a), b['concurrency'], quota(b)) == (2, '200%', 4, '400%')
    assert a['summary'] == 'a: prefork x 2, 1 instance, prefetch 1 (rate: 0.5/s x 2 s x 1.5 needs 2)'


def test_cpu_overload_shares_proportionally_and_warns():
    groups = [dict(REPORTS, name='a', avg_duration_s=2, rate_per_s=2),       # ceil(2 x 2.003 x 1.5) = 7
              dict(REPORTS, name='b', avg_duration_s=1, rate_per_s=1)]       # ceil(1 x 1.003 x 1.5) = 2
    result = plan(groups, {'cpus': 4.5, 'memory_mb': 16384})
    a, b = result['groups']
    assert (a['concurrency'], quota(a), b['concurrency'], quota(b)) == (3, '350%', 1, '100%')
    assert result['warnings'] == ['CPU overload: the groups need 9 CPUs with headroom (a 7, b 2) but 4.5 are'
                                  ' usable; they are shared in proportion to need']
    assert 'below rate_per_s 2' in a['warnings'][0]


def test_memory_is_shared_in_proportion_to_what_each_group_asked_for():
    groups = [dict(IO, name='a', rate_per_s=100),    # 30 threads: 80 + 1800 = 1880 MB
              dict(IO, name='b', rate_per_s=200)]    # 60 threads: 80 + 3600 = 3680 MB
    a, b = plan(groups, {'cpus': 4, 'memory_mb': 2560})['groups']
    # 2048 MB available; minimum 140 MB each; the 1768 MB spare split 1740 : 3540.
    assert (a['concurrency'], b['concurrency']) == (10, 20)
    assert (a['memory_limit_mb'], b['memory_limit_mb']) == (850, 1600)   # 1.25 x (80 + 10 x 60), 1.25 x 1280


# --------------------------------------------------------------------------
# Kinds, pools and the other rules
# --------------------------------------------------------------------------

@pytest.mark.parametrize('group, resources, expected', [
    # cpu: one process per usable CPU, fewer when the rate needs fewer.
    (REPORTS, VM, ('prefork', 2, 1)),
    (dict(REPORTS, rate_per_s=0.05), BIG, ('prefork', 2, 1)),     # ceil(0.05 x 20.003 x 1.5) = 2
    (REPORTS, {'cpus': 1.5, 'memory_mb': 4096}, ('prefork', 1, 1)),
    (REPORTS, {'cpus': 0.5, 'memory_mb': 4096}, ('prefork', 1, 1)),
    (dict(REPORTS, pool='solo'), {'cpus': 4, 'memory_mb': 8192}, ('solo', 1, 4)),
    (dict(REPORTS, instances=2), {'cpus': 8, 'memory_mb': 8192}, ('prefork', 4, 2)),
    # memory caps cpu: (3584 - 80) // (60 + 300) = 9 of 16 CPUs.
    (REPORTS, {'cpus': 16, 'memory_mb': 4096}, ('prefork', 9, 1)),
    # io: Little's law over instances; one GIL-bound process per ~222 tasks/s.
    (IO, VM, ('threads', 58, 1)),                                # (3584 - 80) // 60, not 60
    (dict(IO, rate_per_s=1000, avg_duration_s=0.05, task_memory_mb=10), BIG, ('threads', 15, 5)),
    (dict(IO, rate_per_s=100, avg_duration_s=10, task_memory_mb=1), BIG, ('threads', 250, 6)),
    (dict(IO, rate_per_s=None), BIG, ('threads', 100, 1)),       # 1.5 x 0.2 s / 3 ms
    (dict(IO, rate_per_s=None, avg_duration_s=0.02), BIG, ('threads', 10, 1)),
    (dict(IO, rate_per_s=None, avg_duration_s=5, task_memory_mb=1), BIG, ('threads', 256, 1)),
    # 10/s x 30 s x 1.5 = 450 green threads: two instances to stay under max_concurrency 256.
    (dict(IO, pool='gevent', rate_per_s=10, avg_duration_s=30, task_memory_mb=1), BIG, ('gevent', 225, 2)),
    (dict(IO, pool='prefork'), BIG, ('prefork', 60, 1)),
    # mixed: threads, one process per CPU, 3 x Goetz's 1 + W/C threads each (C with Celery's
    # 3 ms), whatever the share (make bench: best or within noise of the best in every cell).
    # 30% of 20 s: W/C = 6 s / 14.003 s, 3 x 1.43 = 5; 14 s of CPU is longer than the GIL's
    # switch interval, so no fewer than for 10% CPU (30), lowered to 6 by memory (300 MB tasks).
    (dict(REPORTS, kind='mixed', io_share=0.3), {'cpus': 4, 'memory_mb': 8192}, ('threads', 6, 4)),
    # cpu_time_s states the same share.
    (dict(REPORTS, kind='mixed', cpu_time_s=14), {'cpus': 4, 'memory_mb': 8192}, ('threads', 6, 4)),
    # CPU phases shorter than the switch interval keep Goetz's count: 50% of 8 ms, C = 4 + 3 ms,
    # 3 x (1 + 4 / 7) = 5 (10% CPU would be 3 x (1 + 7.2 / 3.8) = 9).
    (dict(REPORTS, kind='mixed', io_share=0.5, avg_duration_s=0.008, task_memory_mb=10), VM, ('threads', 5, 2)),
    # No share given: sized for 10% CPU, 3 x (1 + 18 / 2.003) = 30, lowered to 5 by memory (300 MB tasks).
    (dict(REPORTS, kind='mixed'), VM, ('threads', 5, 2)),
    (dict(REPORTS, kind='mixed', task_memory_mb=10), VM, ('threads', 30, 2)),
    (dict(REPORTS, kind='mixed', io_share=0.3, avg_duration_s=1, rate_per_s=2), {'cpus': 4, 'memory_mb': 8192},
     ('threads', 2, 2)),                                         # Little's law: 2/s x 1 s x 1.5 = 3 in all
    # 80% of 20 s: 3 x (1 + 16 / 4.003) = 15, raised to the 10%-CPU count 30 (4 s of CPU).
    (dict(REPORTS, kind='mixed', io_share=0.8, task_memory_mb=50), VM, ('threads', 30, 2)),
    (dict(REPORTS, kind='mixed', io_share=0.9, task_memory_mb=10), {'cpus': 4, 'memory_mb': 8192},
     ('threads', 30, 4)),
    (dict(REPORTS, kind='mixed', io_share=0.9, task_memory_mb=10, avg_duration_s=1, rate_per_s=4),
     {'cpus': 4, 'memory_mb': 8192}, ('threads', 6, 1)),
    # prefork asked for: 2 x CPUs x (1 + W/C) processes.
    (dict(REPORTS, kind='mixed', io_share=0.3, pool='prefork'), {'cpus': 4, 'memory_mb': 8192}, ('prefork', 11, 1)),
    # a fixed concurrency wins.
    (dict(REPORTS, concurrency=3), VM, ('prefork', 3, 1)),
])
def test_pool_concurrency_instances(group, resources, expected):
    result = plan([group], resources)['groups'][0]
    assert (result['pool'], result['concurrency'], result['instances']) == expected


@pytest.mark.parametrize('group, expected', [
    (dict(REPORTS, avg_duration_s=1), 1),
    (dict(REPORTS, avg_duration_s=0.99), 4),
    (dict(IO, avg_duration_s=0.02), 4),
    (dict(IO, avg_duration_s=0.5, max_wait_s=1), 2),         # 4 x 0.5 s > 1 s: floor(1 / 0.5)
    (dict(IO, avg_duration_s=0.5, max_wait_s=0.3), 1),
    (dict(IO, avg_duration_s=0.2, max_wait_s=10), 4),
])
def test_prefetch_multiplier(group, expected):
    assert plan([group], BIG)['groups'][0]['prefetch_multiplier'] == expected


@pytest.mark.parametrize('group, expected', [
    (dict(REPORTS, time_limit=120), 150),
    (dict(REPORTS, soft_time_limit=100), 130),
    (dict(REPORTS, time_limit=120, soft_time_limit=100), 150),
    (IO, 60),
    (dict(REPORTS, avg_duration_s=40), 150),
])
def test_stop_timeout(group, expected):
    assert plan([group], BIG)['groups'][0]['stop_timeout'] == expected


@pytest.mark.parametrize('group, expected', [
    (REPORTS, (1000, 542720)),
    (dict(REPORTS, avg_duration_s=0.02, task_memory_mb=10), (30000, 95 * 1024)),
    (dict(REPORTS, avg_duration_s=0.5, task_memory_mb=100), (1200, 230 * 1024)),
    (IO, (None, None)),
    (dict(REPORTS, pool='solo'), (None, None)),
    (dict(REPORTS, pool='threads'), (None, None)),
])
def test_recycling_only_for_prefork(group, expected):
    result = plan([group], BIG)['groups'][0]
    assert (result['max_tasks_per_child'], result['max_memory_per_child']) == expected


@pytest.mark.parametrize('group, resources, expected', [
    (IO, BIG, 240),                                                     # 60 x prefetch 4
    (dict(IO, max_wait_s=10), BIG, 60 * 46),                            # 60 x (10 - 4 x 0.2) / 0.2
    (dict(IO, avg_duration_s=0.5, max_wait_s=1), BIG, 150),             # prefetch 2: 150 x max(1, 0)
    (dict(REPORTS, max_wait_s=120), VM, 10),                            # 2 x (120 - 20) / 20
    (dict(REPORTS, pool='solo'), VM, 1),
])
def test_autoscale_queue_length(group, resources, expected):
    assert plan([group], resources)['groups'][0]['autoscale_queue_length'] == expected


def test_io_high_rate_spreads_over_processes():
    group = plan([dict(IO, rate_per_s=1000, avg_duration_s=0.05, task_memory_mb=10)], BIG)['groups'][0]
    # Little: 1000 x 0.05 x 1.5 = 75 threads; GIL: 1000 x 3 ms x 1.5 = 4.5 -> 5 processes of 15.
    assert requests(group) == {'cpu': '900m', 'memory': '230Mi'}
    assert limits(group) == {'cpu': '1', 'memory': '288Mi'}
    assert group['capacity_per_s'] == 1500.0
    assert group['autoscale_queue_length'] == 60


@pytest.mark.parametrize('group, fragment', [
    (dict(REPORTS, pool='threads'), 'pool threads for cpu-bound tasks'),
    (dict(IO, pool='prefork'), 'each waiting task holds a whole process'),
    (dict(IO, pool='eventlet'), 'eventlet is in maintenance mode'),
    (dict(IO, time_limit=5), 'pool threads does not enforce time limits'),
    (dict(IO, pool='gevent', time_limit=5, soft_time_limit=3), 'gevent enforces time_limit only'),
    (dict(REPORTS, avg_duration_s=90), 'no time_limit for tasks of 90 s'),
    (dict(REPORTS, time_limit=4000, avg_duration_s=600), 'raise broker_transport_options visibility_timeout'),
    (dict(IO, io_share=0.4), 'io_share is only used by kind mixed; ignored'),
    (dict(IO, cpu_time_s=0.01), 'cpu_time_s is only used by kind mixed; ignored'),
    (dict(REPORTS, concurrency=8), 'concurrency 8 x 1 instance: more cpu-bound processes than the 2 CPUs'),
    (dict(REPORTS, instances=4), '4 instances x concurrency 1: more cpu-bound processes than the 2 CPUs'),
    (dict(IO, rate_per_s=None, avg_duration_s=5, task_memory_mb=1),
     'concurrency capped at max_concurrency 256 (the rules asked for 2500)'),
    (dict(IO, concurrency=300, task_memory_mb=1), 'concurrency 300 is above max_concurrency 256'),
    (dict(IO, rate_per_s=2000, instances=1), 'below rate_per_s 2000'),
])
def test_group_warnings(group, fragment):
    warnings = plan([group], VM)['groups'][0]['warnings']
    assert any(fragment in warning for warning in warnings), warnings


def test_no_warning_for_a_sane_plan():
    group = plan([dict(REPORTS, time_limit=60)], BIG)['groups'][0]
    assert group['warnings'] == []


def test_fixed_concurrency_is_kept_and_explained():
    group = plan([dict(IO, concurrency=16)], VM)['groups'][0]
    assert group['concurrency'] == 16
    assert 'concurrency 16: fixed by the group (the plan would use 60)' in group['reasons']
    assert group['summary'] == 'io: threads x 16, 1 instance, prefetch 4 (fixed by the group)'


def test_reasons_explain_the_numbers():
    io, reports = plan([IO, REPORTS], BIG)['groups']
    assert "concurrency 60 per instance: Little's law: 200/s x 0.2 s x 1.5 = 60 in flight in all" in io['reasons']
    assert 'capacity about 300 tasks/s for 200/s (67% busy)' in io['reasons']
    assert any(reason.startswith('pool prefork: cpu-bound') for reason in reports['reasons'])
    assert any(reason.startswith('prefetch 1: tasks of 20 s') for reason in reports['reasons'])


def test_input_is_not_modified():
    groups = [dict(IO), dict(REPORTS)]
    plan(groups, VM)
    assert groups == [IO, REPORTS]


# --------------------------------------------------------------------------
# Impossible workloads and invalid input
# --------------------------------------------------------------------------

def test_one_task_bigger_than_the_memory_fails():
    with pytest.raises(cp.PlanError) as error:
        plan([IO, dict(REPORTS, task_memory_mb=3500)], VM)
    assert str(error.value) == (
        'group reports: one task needs 3640 MB (80 MB worker + 1 x (60 MB child + 3500 MB task)) but only 3584 MB'
        ' is available (memory_mb 4096 (given) - reserved_memory_mb 512)')


def test_one_task_fails_even_with_overcommit_allowed():
    with pytest.raises(cp.PlanError, match='group io: one task needs 4080 MB'):
        plan([dict(IO, task_memory_mb=4000)], VM, allow_overcommit=True)


def test_groups_overcommit_memory_fails():
    with pytest.raises(cp.PlanError) as error:
        plan([IO, REPORTS], {'cpus': 1.5, 'memory_mb': 512}, reserved_memory_mb=64)
    assert str(error.value) == (
        'the groups overcommit memory: they need 4120 MB together (io 3680 MB, reports 440 MB), at least 580 MB'
        ' even at the lowest concurrency that is not fixed, but only 448 MB is available (memory_mb 512 (given)'
        ' - reserved_memory_mb 64); lower concurrency, instances or task_memory_mb, move groups to other hosts,'
        ' or set allow_overcommit')


def test_fixed_concurrency_that_does_not_fit_fails():
    with pytest.raises(cp.PlanError, match=r'need 11240 MB together \(reports 11240 MB\)'):
        plan([dict(REPORTS, concurrency=31)], VM)


def test_overcommit_allowed_keeps_the_plan_and_warns():
    result = plan([dict(REPORTS, concurrency=31)], VM, allow_overcommit=True)
    assert result['groups'][0]['concurrency'] == 31
    assert result['warnings'] == [
        'CPU overload: the groups need 31 CPUs with headroom (reports 31) but 2 are usable; they are shared in'
        ' proportion to need',
        'memory overcommitted (allowed): the groups need 11240 MB (reports 11240 MB) but 3584 MB is available'
        ' (memory_mb 4096 (given) - reserved_memory_mb 512)']
    assert 'memory overcommitted: the host may run out of memory under full load' in result['groups'][0]['warnings']


@pytest.mark.parametrize('params, fragment', [
    ({'groups': []}, 'groups must be a non-empty list'),
    ({'groups': 'io'}, 'groups must be a non-empty list'),
    ({'groups': ['io']}, 'groups[0] must be a dict'),
    ({'groups': [dict(IO, kind='network')]}, "groups[0] (io).kind must be one of cpu, io, mixed; got 'network'"),
    ({'groups': [dict(IO, pool='fork')]}, "groups[0] (io).pool must be one of prefork, threads"),
    ({'groups': [dict(IO, avg_duration_s=-1)]}, 'groups[0] (io).avg_duration_s must be a number of seconds above 0'),
    ({'groups': [dict(IO, avg_duration_s=0)]}, '(io).avg_duration_s must be a number of seconds above 0; got 0'),
    ({'groups': [dict(IO, task_memory_mb=0)]}, '(io).task_memory_mb must be a whole number of MB, 1 or more'),
    ({'groups': [dict(IO, task_memory_mb=True)]}, '(io).task_memory_mb must be a whole number'),
    ({'groups': [dict(IO, rate_per_s=0)]}, '(io).rate_per_s must be a number above 0'),
    ({'groups': [dict(IO, max_wait_s=-5)]}, '(io).max_wait_s must be a number above 0'),
    ({'groups': [dict(IO, kind='mixed', io_share=1)]}, '(io).io_share must be a number from 0 to below 1'),
    ({'groups': [dict(IO, kind='mixed', io_share=-0.1)]}, '(io).io_share must be a number from 0 to below 1'),
    ({'groups': [dict(IO, kind='mixed', cpu_time_s=0)]}, '(io).cpu_time_s must be a number of seconds above 0'),
    ({'groups': [dict(IO, kind='mixed', cpu_time_s=0.3)]}, '(io).cpu_time_s (0.3) is above avg_duration_s (0.2)'),
    ({'groups': [dict(IO, kind='mixed', cpu_time_s=0.1, io_share=0.5)]}, '(io): give cpu_time_s or io_share, not both'),
    ({'groups': [dict(IO, instances=0)]}, '(io).instances must be a whole number of 1 or more; got 0'),
    ({'groups': [dict(IO, concurrency=-2)]}, '(io).concurrency must be a whole number of 1 or more'),
    ({'groups': [dict(IO, time_limit=10, soft_time_limit=10)]},
     '(io).soft_time_limit (10) must be below time_limit (10)'),
    ({'groups': [dict(REPORTS, time_limit=10)]},
     'groups[0] (reports): the time limit (10 s) is below avg_duration_s (20 s): most tasks would be killed'),
    ({'groups': [dict(IO, pool='solo', concurrency=4)]}, '(io).concurrency must be 1 (or left out) for the solo pool'),
    ({'groups': [dict(REPORTS, pool='gevent')]}, 'pool gevent cannot run cpu-bound tasks side by side'),
    ({'groups': [IO, dict(REPORTS, name='io')]}, "groups[1] (io): the name 'io' is used twice"),
    ({'groups': [dict(IO, name='')]}, 'groups[0].name is required'),
    ({'groups': [dict(IO, concurency=4)]}, '(io) has unknown keys: concurency'),
    ({'groups': [IO], 'cpus': 0}, 'cpus must be a number above 0; got 0'),
    ({'groups': [IO], 'memory_mb': -1}, 'memory_mb must be a whole number of 1 or more'),
    ({'groups': [IO], 'reserved_memory_mb': -1}, 'reserved_memory_mb must be a whole number of 0 or more'),
    ({'groups': [IO], 'max_concurrency': 0}, 'max_concurrency must be a whole number of 1 or more'),
])
def test_invalid_input_names_the_problem(params, fragment):
    with pytest.raises(cp.PlanError) as error:
        cp.make_plan(params, VM)
    assert any(fragment in message for message in error.value.errors), error.value.errors


def test_every_problem_is_reported():
    with pytest.raises(cp.PlanError) as error:
        cp.make_plan({'groups': [dict(IO, kind='x', task_memory_mb=0), dict(REPORTS, avg_duration_s=0)]}, VM)
    assert len(error.value.errors) == 3
    assert str(error.value) == '; '.join(error.value.errors)
