# -*- coding: utf-8 -*-
# Copyright: celeryops.deploy developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Worker plan: Celery pool, concurrency and limits from resources and workload.

The sizing behind the ``celery_worker_plan`` module (a thin shell around
``_celery_resources.detect_resources`` and :func:`make_plan`): pure
functions of the workload and the resources, no file system reads and no
Ansible imports.

How Celery behaves, which the rules below rely on (Celery 5.x):

* ``--concurrency`` left out means ``billiard.cpu_count()``, i.e.
  ``os.cpu_count()``: the host's CPUs, blind to CPU affinity and to cgroup
  quotas. A container limited to 1.5 CPUs on a 64-core host gets 64 prefork
  children (and 64 x their memory). The plan sizes from the usable CPUs.
* prefork runs each task in a child process: real parallelism on several
  cores, at the price of one process (our estimate: 60 MB more) per slot.
  threads, gevent and eventlet run every task in one process: one core of
  Python at a time (GIL), a waiting task costs only its own memory.
* Celery's own work per task (receive, decode, ack, events, result) costs
  CPU time in the consumer. Measured on the 2-core test machines with 20 ms
  sleep tasks: prefork -c 2 did 88 tasks/s (2 / 88 = 22.7 ms per task, so
  ~2.7 ms overhead), threads -c 64 did 297 tasks/s (one GIL-bound process:
  1 / 297 = 3.4 ms per task). Hence ``TASK_OVERHEAD_S`` = 3 ms, and one
  threads-pool process tops out near 1 / 0.003 = 333 tasks/s.
* A worker reserves up to ``concurrency x prefetch_multiplier`` messages
  (default multiplier 4). A reserved message waits behind running tasks while
  another worker may be idle, so long tasks want a multiplier of 1.
* ``max_tasks_per_child`` and ``max_memory_per_child`` are prefork options;
  the other pools ignore them. billiard checks a child's peak RSS
  (``ru_maxrss``, KiB on Linux) after each task and replaces the child when it
  is above ``max_memory_per_child``; a fresh child's RSS already counts the
  pages it shares with the parent.
* Time limits are enforced by prefork (soft and hard) and by gevent (hard
  only); threads, eventlet and solo ignore them.
* A warm shutdown (SIGTERM) waits for the running tasks; the stop timeout of
  systemd/Compose/Kubernetes must cover the longest task or it is killed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math

POOLS = ('prefork', 'threads', 'gevent', 'eventlet', 'solo')
THREAD_POOLS = ('threads', 'gevent', 'eventlet')
KINDS = ('cpu', 'io', 'mixed')

# --- Numbers the rules use (see the module docstring for their grounds) ----
# Little's law gives the tasks in flight (rate x duration); 1.5 x that keeps
# the slots at most 2/3 busy so that queueing delay stays small when the
# arrivals are bursty (M/M/c waits grow sharply above ~70-80% utilisation).
HEADROOM = 1.5
# CPU seconds Celery itself spends per task (measured, see above).
TASK_OVERHEAD_S = 0.003
# The main worker process (consumer, imported app, broker connection).
WORKER_BASE_MB = 80
# Extra memory per prefork child: it starts as a copy-on-write fork of the
# parent, but Python touches reference counts and the pages stop being shared.
PREFORK_CHILD_MB = 60
# systemd MemoryMax / k8s memory limit over the expected peak of an instance.
MEMORY_MAX_HEADROOM = 1.25
# max_memory_per_child lets a child's peak RSS reach base + 1.5 x task.
CHILD_MEMORY_HEADROOM = 1.5
# Tasks at least this long get prefetch multiplier 1.
LONG_TASK_S = 1.0
CELERY_DEFAULT_PREFETCH = 4
# max_tasks_per_child: a leak guard. At least 1000 tasks, and a child lives at
# least 10 minutes at full load, so that forking (and re-importing lazily
# loaded modules) stays a negligible share of the time.
MAX_TASKS_PER_CHILD = 1000
MIN_CHILD_LIFETIME_S = 600
# Warm shutdown: time limit (or 3 x the average task) plus this margin for
# finishing the ack/result of the last tasks and closing connections.
STOP_MARGIN_S = 30
MIN_STOP_TIMEOUT_S = 60
# Mixed work runs in one threads process per CPU, whatever its CPU share:
# each process's GIL gives it one core, as a prefork child would, without
# the parent/child round trip per task. `make bench` (2 CPUs, 5 ms to 500 ms
# tasks, 5 % to 100 % CPU) found that shape best or within noise of the
# best in every cell, even at 100 % CPU (5 ms of pure Python: threads 2 x 4
# 296/s, prefork x 2 268/s, prefork x 4 275/s).
# Threads per process: Goetz's 1 + W/C (C with Celery's per-task CPU) times
# this: the waits are uneven and the consumer needs the GIL too (the bench:
# 20 % of 50 ms, 2 x 7 threads 137/s, 2 x 15 163/s).
MIXED_THREADS_OVERSUBSCRIPTION = 3.0
# With no CPU share given, the threads are sized for a task that computes
# this share of its time: enough for tasks that mostly wait, and more CPU
# per task only means the threads of a process take turns on its core.
# A stated higher share does not size fewer when a task computes longer
# than the GIL's switch interval: the threads of one process then share the
# GIL in turns, finish their CPU phases together and wait together, and too
# few of them leave the core idle (`make bench`, 80 % of 500 ms: threads
# 2 x 4 2.7/s, 2 x 29 3.8/s, prefork x 16 4.1/s), while threads that wait
# cost little (100 % of 50 ms: 2 x 3 and 2 x 20 both 34/s). Shorter CPU
# phases run to the end once they hold the GIL, and Goetz's count holds
# (50 % of 5 ms: 2 x 5 531/s, 2 x 7 480/s).
MIXED_UNKNOWN_CPU_SHARE = 0.1
# CPython's default sys.getswitchinterval(): a thread holding the GIL longer
# is asked to hand it over.
GIL_SWITCH_INTERVAL_S = 0.005
# Redis and SQS redeliver a message that stays unacknowledged this long.
REDIS_VISIBILITY_TIMEOUT_S = 3600

# Prefork processes per Goetz unit for mixed work (see _size).
MIXED_PREFORK_OVERSUBSCRIPTION = 2.0
GROUP_KEYS = ('name', 'kind', 'task_memory_mb', 'avg_duration_s', 'cpu_time_s', 'rate_per_s', 'max_wait_s', 'io_share',
              'pool', 'time_limit', 'soft_time_limit', 'instances', 'concurrency')
EPSILON = 1e-9


class PlanError(Exception):
    """The workload cannot be planned; ``errors`` holds one message per problem."""

    def __init__(self, errors):
        self.errors = [errors] if isinstance(errors, str) else list(errors)
        super(PlanError, self).__init__('; '.join(self.errors))


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def _ceil(value):
    """ceil() that ignores floating point noise (200 * 0.2 * 1.5 is 60, not 61)."""
    return int(math.ceil(value - EPSILON))


def _floor(value):
    return int(math.floor(value + EPSILON))


def _num(value):
    """A number for a message: 0.2, 200, 1.5 (no trailing zeros)."""
    return '%g' % round(value, 3)


def _sig(value):
    """Three significant digits: 3.976 -> 3.98, 333.3 -> 333."""
    return float('%.3g' % value)


def _plural(count, word):
    return '%d %s%s' % (count, word, '' if count == 1 else 's')


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def k8s_cpu(cpus):
    """Kubernetes CPU quantity: 2 -> '2', 1.5 -> '1500m'."""
    millis = max(1, _ceil(cpus * 1000))
    if millis % 1000 == 0:
        return str(millis // 1000)
    return '%dm' % millis


def systemd_cpu_quota(cpus):
    """systemd CPUQuota= value: 1.5 CPUs -> '150%'."""
    return '%d%%' % max(1, _ceil(cpus * 100))


# --------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------

def _group_errors(index, group, names):
    where = 'groups[%d]' % index
    if not isinstance(group, dict):
        return ['%s must be a dict' % where]
    errors = []
    name = group.get('name')
    if not isinstance(name, str) or not name.strip():
        errors.append('%s.name is required (a non-empty string)' % where)
    else:
        where = 'groups[%d] (%s)' % (index, name)
        if name in names:
            errors.append("%s: the name %r is used twice; group names must be unique" % (where, name))
        names.add(name)
    unknown = sorted(set(group) - set(GROUP_KEYS))
    if unknown:
        errors.append('%s has unknown keys: %s' % (where, ', '.join(str(key) for key in unknown)))
    if group.get('kind') not in KINDS:
        errors.append('%s.kind must be one of %s; got %r' % (where, ', '.join(KINDS), group.get('kind')))
    if group.get('pool') is not None and group['pool'] not in POOLS:
        errors.append('%s.pool must be one of %s; got %r' % (where, ', '.join(POOLS), group['pool']))
    memory = group.get('task_memory_mb')
    if not _is_int(memory) or memory < 1:
        errors.append('%s.task_memory_mb must be a whole number of MB, 1 or more; got %r' % (where, memory))
    duration = group.get('avg_duration_s')
    if not _is_number(duration) or duration <= 0:
        errors.append('%s.avg_duration_s must be a number of seconds above 0; got %r' % (where, duration))
    for key in ('rate_per_s', 'max_wait_s'):
        value = group.get(key)
        if value is not None and (not _is_number(value) or value <= 0):
            errors.append('%s.%s must be a number above 0 (leave it out when unknown); got %r' % (where, key, value))
    io_share = group.get('io_share')
    if io_share is not None:
        if not _is_number(io_share) or not 0 <= io_share < 1:
            errors.append('%s.io_share must be a number from 0 to below 1 (the share of a task spent waiting;'
                          ' a task that only waits is kind io); got %r' % (where, io_share))
    cpu_time = group.get('cpu_time_s')
    if cpu_time is not None:
        if not _is_number(cpu_time) or cpu_time <= 0:
            errors.append('%s.cpu_time_s must be a number of seconds above 0 (the CPU time of one task, as'
                          ' celeryops.deploy.workload_report measures it); got %r' % (where, cpu_time))
        elif _is_number(duration) and duration > 0 and cpu_time > duration * 1.05:
            errors.append('%s.cpu_time_s (%s) is above avg_duration_s (%s): a task cannot use more CPU time'
                          ' than it takes (one thread)' % (where, _num(cpu_time), _num(duration)))
        if io_share is not None:
            errors.append('%s: give cpu_time_s or io_share, not both (io_share = 1 - cpu_time_s /'
                          ' avg_duration_s)' % where)
    for key in ('time_limit', 'soft_time_limit', 'instances', 'concurrency'):
        value = group.get(key)
        if value is not None and (not _is_int(value) or value < 1):
            errors.append('%s.%s must be a whole number of 1 or more; got %r' % (where, key, value))
    soft, hard = group.get('soft_time_limit'), group.get('time_limit')
    if _is_int(soft) and _is_int(hard) and soft >= hard:
        errors.append('%s.soft_time_limit (%d) must be below time_limit (%d)' % (where, soft, hard))
    limit = hard if _is_int(hard) else soft if _is_int(soft) else None
    if limit is not None and _is_number(duration) and limit < duration:
        errors.append('%s: the time limit (%d s) is below avg_duration_s (%s s): most tasks would be killed'
                      % (where, limit, _num(duration)))
    if group.get('pool') == 'solo' and _is_int(group.get('concurrency')) and group['concurrency'] != 1:
        errors.append('%s.concurrency must be 1 (or left out) for the solo pool; got %r' % (where, group['concurrency']))
    if group.get('kind') == 'cpu' and group.get('pool') in ('gevent', 'eventlet'):
        errors.append('%s: pool %s cannot run cpu-bound tasks side by side: a green thread keeps the event loop'
                      ' until it waits on I/O, so the other tasks and the broker heartbeats stall; use prefork'
                      % (where, group['pool']))
    return errors


def validate(params):
    """Check the module's parameters; raise PlanError listing every problem.

    Returns a copy with the defaults filled in.
    """
    params = dict(params)
    params.setdefault('reserved_memory_mb', 512)
    params.setdefault('max_concurrency', 256)
    params.setdefault('allow_overcommit', False)
    errors = []
    cpus, memory = params.get('cpus'), params.get('memory_mb')
    if cpus is not None and (not _is_number(cpus) or cpus <= 0):
        errors.append('cpus must be a number above 0; got %r' % (cpus,))
    if memory is not None and (not _is_int(memory) or memory < 1):
        errors.append('memory_mb must be a whole number of 1 or more; got %r' % (memory,))
    reserved = params['reserved_memory_mb']
    if not _is_int(reserved) or reserved < 0:
        errors.append('reserved_memory_mb must be a whole number of 0 or more; got %r' % (reserved,))
    maximum = params['max_concurrency']
    if not _is_int(maximum) or maximum < 1:
        errors.append('max_concurrency must be a whole number of 1 or more; got %r' % (maximum,))
    groups = params.get('groups')
    if not isinstance(groups, list) or not groups:
        errors.append('groups must be a non-empty list of worker groups')
        groups = []
    names = set()
    for index, group in enumerate(groups):
        errors.extend(_group_errors(index, group, names))
    if errors:
        raise PlanError(errors)
    params['groups'] = [dict((key, group.get(key)) for key in GROUP_KEYS) for group in groups]
    return params


# --------------------------------------------------------------------------
# The rules
# --------------------------------------------------------------------------

def choose_pool(group):
    """(pool, reason) for a validated group."""
    kind, pool = group['kind'], group.get('pool')
    if pool:
        return pool, 'pool %s: asked for by the group' % pool
    if kind == 'cpu':
        return 'prefork', ('pool prefork: cpu-bound Python runs on one core per process (GIL), so only'
                           ' processes use several cores')
    if kind == 'io':
        return 'threads', ('pool threads: io-bound tasks mostly wait; threads share one process, so a waiting'
                           ' task costs its own memory only, not a %d MB prefork child' % PREFORK_CHILD_MB)
    io_share = known_io_share(group)
    share = ('CPU share not given, ' if io_share is None
             else 'waiting %s of the time, ' % _num(io_share))
    return 'threads', ('pool threads: mixed, %sone threads process per CPU: each GIL gives its process a core,'
                       ' as a prefork child would, without the round trip to a parent per task' % share)


def known_io_share(group):
    """Share of a mixed task's time spent waiting, from cpu_time_s or io_share; None: not given."""
    if group.get('cpu_time_s') is not None:
        return max(0.0, 1.0 - float(group['cpu_time_s']) / float(group['avg_duration_s']))
    if group.get('io_share') is not None:
        return float(group['io_share'])
    return None


def goetz_per_cpu(duration, io_share):
    """(C, 1 + W/C) of a mixed task: C its CPU seconds with Celery's own per task, W its wait."""
    cpu_s = duration * (1 - io_share) + TASK_OVERHEAD_S
    return cpu_s, 1 + duration * io_share / cpu_s


def robust_threads_per_cpu(duration):
    """Goetz's 1 + W/C for a mixed task of ``duration`` computing MIXED_UNKNOWN_CPU_SHARE
    of it: the fewest threads per process the mixed rule uses, the share stated or not."""
    return goetz_per_cpu(duration, 1 - MIXED_UNKNOWN_CPU_SHARE)[1]


def _io_share(group):
    """The waiting share the sizing assumes (unknown: MIXED_UNKNOWN_CPU_SHARE of CPU)."""
    share = known_io_share(group)
    return 1.0 - MIXED_UNKNOWN_CPU_SHARE if share is None else share


def cpu_fraction(group):
    """Share of a task's time spent on the CPU: cpu 1, io 0, mixed as given (unknown: 0.5 for CPU demand)."""
    if group['kind'] == 'cpu':
        return 1.0
    if group['kind'] == 'io':
        return 0.0
    share = known_io_share(group)
    return 0.5 if share is None else 1.0 - share


def cpu_demand(group, pool):
    """CPUs the group needs (with headroom); None: not part of the CPU split; inf: all it can get.

    cpu/mixed: rate x (CPU time of a task + Celery overhead) x 1.5, whole
    CPUs for cpu; unknown rate: as many as there are. io: only Celery's own
    per-task CPU time, rate x 3 ms x 1.5; unknown rate: not counted (an io
    group is assumed light; give rate_per_s to reserve CPU for it).
    A concurrency fixed by the user bounds the demand: a process runs on at
    most one core, a threads-like process too (GIL).
    """
    rate, duration = group.get('rate_per_s'), group['avg_duration_s']
    if group['kind'] == 'io':
        return rate * TASK_OVERHEAD_S * HEADROOM if rate else None
    demand = float('inf')
    if rate:
        demand = rate * (duration * cpu_fraction(group) + TASK_OVERHEAD_S) * HEADROOM
        if group['kind'] == 'cpu':
            demand = float(_ceil(demand))
    instances = group.get('instances') or 1
    if pool in THREAD_POOLS and group.get('instances'):
        demand = min(demand, float(instances))
    elif group.get('concurrency') and pool == 'prefork':
        demand = min(demand, group['concurrency'] * instances * cpu_fraction(group))
    elif group.get('instances') and pool == 'solo':
        demand = min(demand, instances * cpu_fraction(group))
    return demand


def split_cpus(total, demands):
    """Share ``total`` CPUs among groups by demand (None = not in the split).

    When every demand is known and they add up to more than there is, each
    gets the same fraction of its demand (proportional). Otherwise water
    filling: a group needing less than an equal share gets what it needs, the
    rest is shared equally among the others (``inf`` = no known bound).
    """
    shares = [None] * len(demands)
    members = [index for index, demand in enumerate(demands) if demand is not None]
    if not members:
        return shares
    bounded = [demands[index] for index in members if demands[index] != float('inf')]
    if len(bounded) == len(members) and sum(bounded) > total:
        for index in members:
            shares[index] = total * demands[index] / sum(bounded)
        return shares
    remaining, open_members = float(total), list(members)
    while open_members:
        level = remaining / len(open_members)
        satisfied = [index for index in open_members if demands[index] <= level]
        if not satisfied:
            for index in open_members:
                shares[index] = level
            break
        for index in satisfied:
            shares[index] = demands[index]
            remaining -= demands[index]
            open_members.remove(index)
    return shares


def instance_memory_mb(pool, concurrency, task_memory_mb):
    """Expected peak memory of one worker instance (MB), as its cgroup counts it.

    prefork: parent + each child (its own pages + the task);
    threads/gevent/eventlet: one process + every running task; solo: one task.
    """
    if pool == 'prefork':
        return WORKER_BASE_MB + concurrency * (PREFORK_CHILD_MB + task_memory_mb)
    if pool == 'solo':
        return WORKER_BASE_MB + task_memory_mb
    return WORKER_BASE_MB + concurrency * task_memory_mb


def memory_limit_from_child_cap(concurrency, max_memory_per_child_kib):
    """MemoryMax of one prefork instance that states no workload, from its max_memory_per_child.

    billiard replaces a child once its peak RSS passed the cap, after the
    task that passed it: a child can reach the cap plus a task, so each child
    counts CHILD_MEMORY_HEADROOM x the cap, plus the parent, plus headroom.
    """
    return _ceil((WORKER_BASE_MB + concurrency * max_memory_per_child_kib / 1024.0 * CHILD_MEMORY_HEADROOM)
                 * MEMORY_MAX_HEADROOM)


def _memory_detail(pool, concurrency, task_memory_mb):
    if pool == 'prefork':
        return '%d MB worker + %d x (%d MB child + %d MB task)' % (
            WORKER_BASE_MB, concurrency, PREFORK_CHILD_MB, task_memory_mb)
    if pool == 'solo':
        return '%d MB worker + %d MB task' % (WORKER_BASE_MB, task_memory_mb)
    return '%d MB worker + %d x %d MB task' % (WORKER_BASE_MB, concurrency, task_memory_mb)


def prefetch_multiplier(group):
    """(multiplier, reason).

    1 for tasks of 1 s or more (Celery's advice for long tasks: a reserved
    message would wait a whole task while another worker may be idle).
    Otherwise Celery's default 4: it hides the broker round trip for short
    tasks; it is not raised for threads either, since the worker already
    reserves concurrency x 4 messages. When max_wait_s is given, lowered so
    that a reserved message waits at most multiplier x duration <= max_wait_s.
    """
    duration, max_wait = group['avg_duration_s'], group.get('max_wait_s')
    if duration >= LONG_TASK_S:
        return 1, ('prefetch 1: tasks of %s s (>= %s s) would wait a whole task in a worker\'s buffer while'
                   ' another worker may be idle' % (_num(duration), _num(LONG_TASK_S)))
    value = CELERY_DEFAULT_PREFETCH
    reason = ('prefetch %d (Celery\'s default): short tasks (%s s), the buffer hides the broker round trip'
              % (value, _num(duration)))
    if max_wait is not None and value * duration > max_wait:
        value = max(1, _floor(max_wait / duration))
        reason = ('prefetch %d: a reserved message waits up to prefetch x %s s, which must stay within'
                  ' max_wait_s %s s' % (value, _num(duration), _num(max_wait)))
    return value, reason


def stop_timeout(group):
    """(seconds, reason): how long a warm shutdown may take before SIGKILL."""
    limit = group.get('time_limit') or group.get('soft_time_limit')
    if limit:
        which = 'time_limit' if group.get('time_limit') else 'soft_time_limit'
        return limit + STOP_MARGIN_S, ('stop timeout %d s: %s %d s + %d s to finish acks/results and close'
                                       % (limit + STOP_MARGIN_S, which, limit, STOP_MARGIN_S))
    value = max(MIN_STOP_TIMEOUT_S, _ceil(3 * group['avg_duration_s']) + STOP_MARGIN_S)
    return value, ('stop timeout %d s: no time limit, so 3 x the average task (%s s) + %d s, at least %d s'
                   % (value, _num(group['avg_duration_s']), STOP_MARGIN_S, MIN_STOP_TIMEOUT_S))


def max_tasks_per_child(group):
    """Leak guard: 1000 tasks, more for short tasks so a child lives >= 10 min."""
    return max(MAX_TASKS_PER_CHILD, _ceil(MIN_CHILD_LIFETIME_S / group['avg_duration_s']))


def max_memory_per_child_kib(task_memory_mb):
    """Peak RSS (KiB) above which billiard replaces a child after its task.

    A child's RSS counts the pages it shares with the parent (~ the worker
    base), so: base + 1.5 x the task's memory.
    """
    return _ceil((WORKER_BASE_MB + CHILD_MEMORY_HEADROOM * task_memory_mb) * 1024)


def _size(group, pool, share, total_cpus, max_concurrency):
    """Instances and concurrency from CPUs and rate, before the memory check.

    Returns a dict with instances, concurrency, basis (short), reasons, warnings.
    """
    kind, duration, rate = group['kind'], group['avg_duration_s'], group.get('rate_per_s')
    fixed_c, fixed_n = group.get('concurrency'), group.get('instances')
    reasons, warnings = [], []
    little = _ceil(rate * duration * HEADROOM) if rate else None
    little_text = ("Little's law: %s/s x %s s x %s = %d" % (_num(rate), _num(duration), _num(HEADROOM), little)
                   if rate else None)
    cpus = share if share is not None else total_cpus
    cpu_text = '%s of %s usable CPUs' % (_num(cpus), _num(total_cpus))
    instances, concurrency, basis = 1, 1, ''

    if kind == 'cpu':
        processes = max(1, _floor(cpus))
        basis = 'CPUs: %s usable -> %d' % (_num(cpus), processes)
        if rate and share is not None and share + EPSILON >= cpu_demand(group, pool):
            basis = 'rate: %s/s x %s s x %s needs %d' % (_num(rate), _num(duration), _num(HEADROOM), processes)
        if pool == 'solo':
            instances, concurrency = fixed_n or processes, 1
            reasons.append('instances %d: one solo process per CPU (%s)' % (instances, cpu_text))
        else:
            instances = fixed_n or 1
            concurrency = max(1, processes // instances)
            reasons.append('concurrency %d: %s in all, one per CPU (%s), over %s'
                           % (concurrency, _plural(processes, 'process'), cpu_text, _plural(instances, 'instance')))
            if fixed_c is None and concurrency * instances > processes:
                warnings.append('%s x concurrency %d: more cpu-bound processes than the %s CPUs for this group;'
                                ' they only take turns' % (_plural(instances, 'instance'), concurrency, _num(cpus)))
            if pool in THREAD_POOLS:
                warnings.append('pool %s for cpu-bound tasks: threads of one process run Python on one core at a'
                                ' time (GIL); this only helps if the task code releases the GIL (NumPy, C'
                                ' extensions). Use prefork otherwise.' % pool)
    elif kind == 'mixed':
        io_share = _io_share(group)
        stated = known_io_share(group) is not None
        # C counts Celery's own CPU per task: for short tasks it is most of it.
        cpu_s, per_cpu = goetz_per_cpu(duration, io_share)
        share_text = ('waits %s of its time' % _num(io_share) if stated else
                      'CPU share not given (cpu_time_s), sized for %s%% CPU' % _num(100 * MIXED_UNKNOWN_CPU_SHARE))
        goetz = 'Goetz: 1 + W/C = 1 + %s ms / %s ms = %s' % (
            _num(duration * io_share * 1000), _num(cpu_s * 1000), _num(per_cpu))
        if pool in THREAD_POOLS:
            instances = fixed_n or max(1, _floor(cpus))
            # A stated share only ever adds threads when the CPU phases are
            # longer than the GIL's switch interval (see MIXED_UNKNOWN_CPU_SHARE).
            robust = robust_threads_per_cpu(duration) if duration * (1 - io_share) > GIL_SWITCH_INTERVAL_S else 0
            per = max(1, _ceil(max(per_cpu, robust) * MIXED_THREADS_OVERSUBSCRIPTION))
            total = instances * per
            basis = '%s, x %s, one process per CPU' % (goetz, _num(MIXED_THREADS_OVERSUBSCRIPTION))
            if stated and robust > per_cpu:
                basis += ('; no fewer than for %s%% CPU (1 + W/C = %s): long CPU phases take turns on the GIL'
                          % (_num(100 * MIXED_UNKNOWN_CPU_SHARE), _num(robust)))
            if little is not None and little < total:
                total = little
                basis = little_text
                if not fixed_n:
                    instances = max(1, min(instances, total))
            concurrency = max(1, _ceil(total / instances))
            reasons.append('concurrency %d per instance: a task %s; %s threads keep one core busy (%s)' % (
                concurrency, share_text, _num(per_cpu * MIXED_THREADS_OVERSUBSCRIPTION), basis))
            reasons.append('instances %d: one threads process per usable CPU (%s): the GIL lets one process'
                           ' use about one core' % (instances, cpu_text))
        else:
            # Goetz's N = CPUs x (1 + W/C) assumes no overhead and even task
            # times; a prefork child also waits on the parent's per-task work
            # and the broker round trip, so twice that keeps the CPUs busy.
            processes = max(1, _floor(cpus * per_cpu * MIXED_PREFORK_OVERSUBSCRIPTION))
            basis = '%s, x %s CPUs x %s = %d' % (goetz, _num(cpus), _num(MIXED_PREFORK_OVERSUBSCRIPTION), processes)
            if little is not None and little < processes:
                processes, basis = little, little_text
            if pool == 'solo':
                instances, concurrency = fixed_n or processes, 1
            else:
                instances = fixed_n or 1
                concurrency = max(1, processes // instances)
            reasons.append('%d processes in all: a task %s, so each of %s CPUs keeps %s processes busy (%s)' % (
                processes, share_text, _num(cpus), _num(per_cpu), basis))
    else:  # io
        if pool in THREAD_POOLS:
            if rate:
                # One process handles at most ~1 / TASK_OVERHEAD_S tasks/s (GIL): keep it 2/3 busy.
                gil = _ceil(rate * TASK_OVERHEAD_S * HEADROOM)
                instances = fixed_n or max(1, gil, _ceil(little / max_concurrency))
                concurrency = max(1, _ceil(little / instances))
                basis = little_text
                reasons.append('concurrency %d per instance: %s in flight in all' % (concurrency, little_text))
                reasons.append('instances %d: Celery spends ~%s ms of CPU per task in one GIL-bound process'
                               ' (~%d tasks/s max); %s/s x %s ms x %s = %s processes' % (
                                   instances, _num(TASK_OVERHEAD_S * 1000), round(1 / TASK_OVERHEAD_S), _num(rate),
                                   _num(TASK_OVERHEAD_S * 1000), _num(HEADROOM),
                                   _num(rate * TASK_OVERHEAD_S * HEADROOM)))
            else:
                instances = fixed_n or 1
                concurrency = max(1, _ceil(HEADROOM * duration / TASK_OVERHEAD_S))
                basis = 'rate unknown: %s x %s s / %s ms = %d, enough for one process\'s ~%d tasks/s' % (
                    _num(HEADROOM), _num(duration), _num(TASK_OVERHEAD_S * 1000), concurrency,
                    round(1 / TASK_OVERHEAD_S))
                reasons.append('concurrency %d: rate_per_s unknown, so enough threads for one process to reach'
                               ' its GIL-bound ceiling of ~%d tasks/s (Celery spends ~%s ms of CPU per task):'
                               ' %s x %s s / %s s' % (
                                   concurrency, round(1 / TASK_OVERHEAD_S), _num(TASK_OVERHEAD_S * 1000),
                                   _num(HEADROOM), _num(duration), _num(TASK_OVERHEAD_S)))
                reasons.append('instances %d: one threads process is enough without a known rate' % instances)
            if pool == 'eventlet':
                warnings.append('eventlet is in maintenance mode upstream; prefer threads or gevent')
            if pool in ('gevent', 'eventlet'):
                reasons.append('pool %s: needs the %s package and task code that never blocks the event loop'
                               ' (C drivers that are not monkey-patched block every task)' % (pool, pool))
        else:
            if rate:
                processes, basis = little, little_text
            else:
                # Assume an io task waits >= 90% of its time: Goetz, CPUs x (1 + 9).
                processes = max(1, _floor(total_cpus * 10))
                basis = 'rate unknown: CPUs x 10 (an io task waits >= 90%% of its time) = %d' % processes
            if pool == 'solo':
                instances, concurrency = fixed_n or processes, 1
            else:
                instances = fixed_n or 1
                concurrency = max(1, _ceil(processes / instances))
            reasons.append('%d processes in all (%s)' % (processes, basis))
            warnings.append('pool %s for io-bound tasks: each waiting task holds a whole process (%d MB + the'
                            ' task); threads would need much less memory' % (pool, PREFORK_CHILD_MB))

    if fixed_c is not None:
        if fixed_c != concurrency:
            reasons.append('concurrency %d: fixed by the group (the plan would use %d)' % (fixed_c, concurrency))
        concurrency, basis = fixed_c, 'fixed by the group'
        if pool == 'prefork' and kind == 'cpu' and fixed_c * instances > max(1, _floor(cpus)):
            warnings.append('concurrency %d x %s: more cpu-bound processes than the %s CPUs for this group;'
                            ' they only take turns' % (fixed_c, _plural(instances, 'instance'), _num(cpus)))
        if fixed_c > max_concurrency:
            warnings.append('concurrency %d is above max_concurrency %d' % (fixed_c, max_concurrency))
    elif pool != 'solo' and concurrency > max_concurrency:
        warnings.append('concurrency capped at max_concurrency %d (the rules asked for %d)'
                        % (max_concurrency, concurrency))
        concurrency = max_concurrency
        basis += ', capped by max_concurrency'
    if fixed_n is not None:
        reasons.append('instances %d: fixed by the group' % fixed_n)
    if pool == 'solo':
        concurrency = 1
    return {'instances': instances, 'concurrency': concurrency, 'basis': basis,
            'reasons': reasons, 'warnings': warnings}


def _group_memory(item):
    return item['instances'] * instance_memory_mb(item['pool'], item['concurrency'], item['group']['task_memory_mb'])


def _largest_within(item, budget):
    """The largest concurrency (solo: instances) whose memory fits ``budget``; at least 1."""
    task = item['group']['task_memory_mb']
    if item['pool'] == 'solo':
        return max(1, int(budget // instance_memory_mb('solo', 1, task)))
    per_slot = task + (PREFORK_CHILD_MB if item['pool'] == 'prefork' else 0)
    return max(1, int((budget / item['instances'] - WORKER_BASE_MB) // per_slot))


def _fit_memory(items, available, memory_text, hint, allow_overcommit, top_warnings):
    """Lower the planned concurrency until every group fits ``available`` MB, or fail."""
    errors = []
    for item in items:
        one = instance_memory_mb(item['pool'], 1, item['group']['task_memory_mb'])
        if one > available:
            errors.append('group %s: one task needs %d MB (%s) but only %d MB is available (%s)%s' % (
                item['group']['name'], one, _memory_detail(item['pool'], 1, item['group']['task_memory_mb']),
                available, memory_text, hint))
    if errors:
        raise PlanError(errors)
    needed = sum(_group_memory(item) for item in items)
    if needed <= available:
        return
    detail = ', '.join('%s %d MB' % (item['group']['name'], _group_memory(item)) for item in items)
    if allow_overcommit:
        top_warnings.append('memory overcommitted (allowed): the groups need %d MB (%s) but %d MB is available (%s)'
                            % (needed, detail, available, memory_text))
        for item in items:
            item['warnings'].append('memory overcommitted: the host may run out of memory under full load')
        return
    shrinkable = [item for item in items if not item['fixed']]
    minimum = {}
    for item in items:
        if item['fixed']:
            minimum[id(item)] = _group_memory(item)
        else:
            low = dict(item, concurrency=1, instances=1 if item['pool'] == 'solo' else item['instances'])
            minimum[id(item)] = _group_memory(low)
    floor_total = sum(minimum.values())
    if floor_total > available or not shrinkable:
        raise PlanError('the groups overcommit memory: they need %d MB together (%s), at least %d MB even at the'
                        ' lowest concurrency that is not fixed, but only %d MB is available (%s); lower concurrency,'
                        ' instances or task_memory_mb, move groups to other hosts, or set allow_overcommit%s'
                        % (needed, detail, floor_total, available, memory_text, hint))
    spare = available - floor_total
    excess = dict((id(item), _group_memory(item) - minimum[id(item)]) for item in shrinkable)
    total_excess = sum(excess.values())
    for item in shrinkable:
        budget = minimum[id(item)] + spare * excess[id(item)] / total_excess
        old = item['instances'] if item['pool'] == 'solo' else item['concurrency']
        new = min(old, _largest_within(item, budget))
        if new == old:
            continue
        what = 'instances' if item['pool'] == 'solo' else 'concurrency'
        item[what] = new
        item['basis'] += ', capped by memory'
        share = '' if len(items) == 1 else ' (its share of the memory left by the other groups)'
        item['warnings'].append('%s lowered from %d to %d by memory: %d MB available (%s)%s' % (
            what, old, new, int(budget), memory_text, share))


def _capacity(item, cpus, total_cpus):
    """Tasks/s the group can sustain: min(slots / duration, CPU / CPU time per task)."""
    group, pool = item['group'], item['pool']
    duration = group['avg_duration_s']
    slots = item['instances'] * item['concurrency']
    cpu_time = duration * cpu_fraction(group) + TASK_OVERHEAD_S
    if pool in THREAD_POOLS:
        cores = min(float(item['instances']), cpus if cpus is not None else total_cpus)
    else:
        cores = min(float(slots), cpus if cpus is not None else total_cpus)
    return min(slots / duration, cores / cpu_time)


def _finish(item, total_cpus, available):
    """All output fields of one group."""
    group, pool = item['group'], item['pool']
    name, kind, task = group['name'], group['kind'], group['task_memory_mb']
    duration, rate, max_wait = group['avg_duration_s'], group.get('rate_per_s'), group.get('max_wait_s')
    instances, concurrency = item['instances'], item['concurrency']
    reasons, warnings = item['reasons'], item['warnings']
    prefork = pool == 'prefork'

    prefetch, reason = prefetch_multiplier(group)
    reasons.append(reason)
    stop, reason = stop_timeout(group)
    reasons.append(reason)
    if not group.get('time_limit') and duration >= 60:
        warnings.append('no time_limit for tasks of %s s: a stuck task holds its slot forever and is killed'
                        ' only by the stop timeout; set one' % _num(duration))
    if group.get('time_limit') or group.get('soft_time_limit'):
        if pool in ('threads', 'eventlet', 'solo'):
            warnings.append('pool %s does not enforce time limits (only prefork does, and gevent the hard one)'
                            % pool)
        elif pool == 'gevent' and group.get('soft_time_limit'):
            warnings.append('pool gevent enforces time_limit only, not soft_time_limit')
    longest = (group.get('time_limit') or group.get('soft_time_limit') or 3 * duration) + prefetch * duration
    if longest >= REDIS_VISIBILITY_TIMEOUT_S:
        warnings.append('a message may stay unacknowledged ~%d s (buffer + task) with task_acks_late: on Redis or'
                        ' SQS raise broker_transport_options visibility_timeout above that (default %d s) or the'
                        ' task runs twice' % (_ceil(longest), REDIS_VISIBILITY_TIMEOUT_S))

    tasks_per_child = memory_per_child = None
    if prefork:
        tasks_per_child = max_tasks_per_child(group)
        memory_per_child = max_memory_per_child_kib(task)
        reasons.append('max_tasks_per_child %d: leak guard; at least %d tasks and %d s of work per child'
                       ' (%d x %s s)' % (tasks_per_child, MAX_TASKS_PER_CHILD, MIN_CHILD_LIFETIME_S,
                                         tasks_per_child, _num(duration)))
        reasons.append('max_memory_per_child %d KiB: a child is replaced after a task that leaves its peak RSS'
                       ' above %d MB worker pages + %s x %d MB task' % (
                           memory_per_child, WORKER_BASE_MB, _num(CHILD_MEMORY_HEADROOM), task))
    else:
        reasons.append('no max_tasks_per_child/max_memory_per_child: pool %s ignores them (prefork only);'
                       ' MemoryMax bounds the process' % pool)

    expected = instance_memory_mb(pool, concurrency, task)
    memory_max = _ceil(expected * MEMORY_MAX_HEADROOM)
    if prefork:
        # Every child at its recycle threshold must still fit, or the kernel
        # kills a child before billiard replaces it.
        memory_max = max(memory_max, _ceil(WORKER_BASE_MB + concurrency * memory_per_child / 1024.0))
    memory_max = min(memory_max, max(expected, available))
    reasons.append('memory per instance: %d MB expected (%s); MemoryMax %d MB (x %s, at most the %d MB'
                   ' available%s)' % (expected, _memory_detail(pool, concurrency, task), memory_max,
                                      _num(MEMORY_MAX_HEADROOM), available,
                                      ', and room for every child at max_memory_per_child' if prefork else ''))

    if item['share'] is not None:
        budget = item['share']
        cpu_origin = 'its share of the %s usable CPUs' % _num(total_cpus)
    else:
        # io group of unknown rate: one GIL-bound process uses about one core.
        budget = min(float(instances), total_cpus) if pool in THREAD_POOLS else total_cpus
        cpu_origin = 'not in the CPU split (rate unknown); one core per process at most'
    per_instance = max(0.01, budget / instances)
    cap = per_instance
    if pool in THREAD_POOLS:
        # A GIL-bound process uses up to about one core; a lower cap only throttles it.
        cap = max(cap, min(1.0, total_cpus))
    # What the units get: the cap as returned (cpu_limit, two decimals).
    quota = systemd_cpu_quota(round(cap, 2))
    reasons.append('CPUQuota %s per instance: %s CPUs needed, %s%s' % (
        quota, _num(per_instance), cpu_origin,
        '; capped at no less than one core (one GIL-bound process)' if cap > per_instance else ''))

    capacity = _capacity(item, item['share'], total_cpus)
    if rate:
        if rate > capacity + EPSILON:
            warnings.append('this plan runs about %g tasks/s, below rate_per_s %s: the queue grows; add hosts or'
                            ' replicas' % (_sig(capacity), _num(rate)))
        else:
            reasons.append('capacity about %g tasks/s for %s/s (%d%% busy)'
                           % (_sig(capacity), _num(rate), round(100 * rate / capacity)))

    per_replica = concurrency if pool != 'solo' else 1
    if max_wait is not None:
        factor = max(1.0, (max_wait - prefetch * duration) / duration)
        queue_length = _ceil(per_replica * factor)
        reasons.append('autoscale at %d queued per replica: a replica clears %d tasks per %s s, so a message'
                       ' behind that many waits about max_wait_s %s s (minus its prefetch buffer)' % (
                           queue_length, per_replica, _num(duration), _num(max_wait)))
    else:
        queue_length = per_replica * prefetch
        reasons.append('autoscale at %d queued per replica: concurrency x prefetch; more waiting than the'
                       ' replicas would hold in their buffers means they are all busy' % queue_length)

    summary = '%s: %s x %d, %s, prefetch %d (%s)' % (
        name, pool, concurrency, _plural(instances, 'instance'), prefetch, item['basis'])
    return {
        'name': name,
        'pool': pool,
        'concurrency': concurrency,
        'instances': instances,
        'prefetch_multiplier': prefetch,
        'max_tasks_per_child': tasks_per_child,
        'max_memory_per_child': memory_per_child,
        'stop_timeout': stop,
        'memory_limit_mb': memory_max,
        'cpu_limit': round(cap, 2),
        'cpu_request': round(per_instance, 2),
        'memory_request_mb': expected,
        'autoscale_queue_length': queue_length,
        'capacity_per_s': _sig(capacity),
        'summary': summary,
        'reasons': reasons,
        'warnings': warnings,
    }


def make_plan(params, resources):
    """The plan for validated-or-raw ``params`` on ``resources`` (see detect_resources).

    Raises PlanError for invalid input and impossible workloads.
    """
    params = validate(params)
    total_cpus = float(resources['cpus'])
    memory_mb = int(resources['memory_mb'])
    reserved = params['reserved_memory_mb']
    available = memory_mb - reserved
    memory_text = 'memory_mb %d (%s) - reserved_memory_mb %d' % (memory_mb, resources.get('memory_source', 'given'),
                                                                 reserved)
    hint = ''
    if str(resources.get('memory_source', '')).startswith('cgroup') and reserved:
        hint = ('; the memory is a cgroup limit, which holds only this container or service:'
                ' a smaller reserved_memory_mb may do')
    if available < 1:
        raise PlanError('no memory left for workers: %s = %d MB%s' % (memory_text, available, hint))
    top_warnings = []
    groups = params['groups']
    pools = [choose_pool(group) for group in groups]
    demands = [cpu_demand(group, pool) for group, (pool, _reason) in zip(groups, pools)]
    shares = split_cpus(total_cpus, demands)
    bounded = [demand for demand in demands if demand is not None and demand != float('inf')]
    if len(bounded) == len([demand for demand in demands if demand is not None]) and sum(bounded) > total_cpus:
        needs = ', '.join('%s %s' % (group['name'], _num(demand))
                          for group, demand in zip(groups, demands) if demand is not None)
        top_warnings.append('CPU overload: the groups need %s CPUs with headroom (%s) but %s are usable; they are'
                            ' shared in proportion to need' % (_num(sum(bounded)), needs, _num(total_cpus)))
    items = []
    for group, (pool, pool_reason), share in zip(groups, pools, shares):
        sized = _size(group, pool, share, total_cpus, params['max_concurrency'])
        reasons = [pool_reason]
        if share is not None and len(groups) > 1:
            reasons.append('CPU share %s of %s usable CPUs: the groups that compute (and io groups with a known'
                           ' rate, for Celery\'s own per-task work) split them by need' % (_num(share), _num(total_cpus)))
        for key in ('io_share', 'cpu_time_s'):
            if group['kind'] != 'mixed' and group.get(key) is not None:
                sized['warnings'].append('%s is only used by kind mixed; ignored' % key)
        items.append({'group': group, 'pool': pool, 'share': share,
                      'instances': sized['instances'], 'concurrency': sized['concurrency'],
                      'basis': sized['basis'], 'reasons': reasons + sized['reasons'],
                      'warnings': sized['warnings'],
                      'fixed': group.get('concurrency') is not None or (pool == 'solo' and group.get('instances'))})
    _fit_memory(items, available, memory_text, hint, params['allow_overcommit'], top_warnings)
    planned = [_finish(item, total_cpus, available) for item in items]
    resources_out = {
        'cpus': total_cpus,
        'cpus_source': resources.get('cpus_source', 'given'),
        'memory_mb': memory_mb,
        'memory_source': resources.get('memory_source', 'given'),
        'reserved_memory_mb': reserved,
        'available_memory_mb': available,
        'planned_memory_mb': sum(group['instances'] * instance_memory_mb(group['pool'], group['concurrency'],
                                                                         item['group']['task_memory_mb'])
                                 for group, item in zip(planned, items)),
    }
    if resources.get('cgroup'):
        resources_out['cgroup'] = resources['cgroup']
    return {
        'resources': resources_out,
        'groups': planned,
        'summary': [group['summary'] for group in planned],
        'warnings': top_warnings,
    }
